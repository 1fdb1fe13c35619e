import { createHash } from 'node:crypto';
import http from 'node:http';
import net from 'node:net';
import tls from 'node:tls';

export interface TlsPolicy {
  /** PEM bundle; default: Node's (the system's) trusted CAs. */
  ca?: Buffer;
  /** SHA-256 fingerprints of the server certificate (DER), lowercase hex. With pins, only these certificates pass. */
  pins: readonly string[];
}

export interface HttpRequest {
  method: 'GET' | 'POST';
  /** Path (and query) on the server, starting with "/". */
  path: string;
  headers: Record<string, string>;
  body?: Buffer;
  timeoutMs: number;
}

export interface HttpResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: Buffer;
}

export type FailureKind = 'pin' | 'tls' | 'network' | 'timeout' | 'protocol';

/** A request that got no HTTP answer. The message is meant for operators: it says what to check. */
export class TransportError extends Error {
  override readonly name = 'TransportError';
  constructor(
    readonly kind: FailureKind,
    message: string,
  ) {
    super(message);
  }
}

const MAX_RESPONSE_BYTES = 1024 * 1024;

/** "ab:cd:…" for an operator to compare with `openssl x509 -fingerprint -sha256`. */
export const formatFingerprint = (hex: string) => hex.toUpperCase().replace(/(..)(?!$)/g, '$1:');

export const certificateFingerprint = (der: Buffer) => createHash('sha256').update(der).digest('hex');

/**
 * HTTP/1.1 over TLS, one connection per request (an agent sends about one request a second), with the server's
 * certificate checked BEFORE anything is sent: against the CA bundle (chain and host name) and, when pins are
 * configured, against the pinned fingerprints — a pin alone trusts exactly that certificate, whoever signed it.
 * The whole request, connection included, is bounded by `timeoutMs` (AbortSignal.timeout).
 */
export class HttpsTransport {
  constructor(
    private readonly base: URL,
    private readonly policy: TlsPolicy,
  ) {}

  get origin(): string {
    return this.base.origin;
  }

  async request(request: HttpRequest): Promise<HttpResponse> {
    const signal = AbortSignal.timeout(request.timeoutMs);
    const host = this.base.hostname.replace(/^\[|\]$/g, '');
    const port = Number(this.base.port) || (this.base.protocol === 'https:' ? 443 : 80);
    const where = `${this.base.host}`;
    let socket: net.Socket;
    try {
      socket =
        this.base.protocol === 'https:'
          ? await this.#connectTls(host, port, signal)
          : await connectPlain(host, port, signal);
    } catch (error) {
      throw classify(error, where, request.timeoutMs, signal);
    }
    try {
      return await exchange(socket, this.base.host, request, signal);
    } catch (error) {
      throw classify(error, where, request.timeoutMs, signal);
    } finally {
      socket.destroy();
    }
  }

  #connectTls(host: string, port: number, signal: AbortSignal): Promise<tls.TLSSocket> {
    const pins = this.policy.pins;
    // With pins only, the chain is not checked by Node (a pinned self-signed certificate is the point): the pin is.
    const verifyChain = pins.length === 0 || this.policy.ca !== undefined;
    return new Promise((resolve, reject) => {
      const socket = tls.connect({
        host,
        port,
        ...(net.isIP(host) ? {} : { servername: host }),
        ...(this.policy.ca ? { ca: this.policy.ca } : {}),
        rejectUnauthorized: verifyChain,
        ALPNProtocols: ['http/1.1'],
      });
      const onAbort = () => socket.destroy(new Error('aborted'));
      signal.addEventListener('abort', onAbort, { once: true });
      // Stays attached: a late error must not go unhandled (the HTTP request reports it too).
      socket.on('error', (error: Error) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      });
      socket.once('secureConnect', () => {
        signal.removeEventListener('abort', onAbort);
        if (pins.length > 0) {
          const der = socket.getPeerCertificate().raw;
          const actual = der ? certificateFingerprint(der) : '';
          if (!pins.includes(actual)) {
            socket.destroy();
            reject(
              new TransportError(
                'pin',
                `the certificate of ${host}:${port} does not match the pinned fingerprint ` +
                  `(it is sha256 ${formatFingerprint(actual)}; pinned: ${pins.map(formatFingerprint).join(', ')}): ` +
                  'nothing was sent',
              ),
            );
            return;
          }
        }
        resolve(socket);
      });
    });
  }
}

function connectPlain(host: string, port: number, signal: AbortSignal): Promise<net.Socket> {
  return new Promise((resolve, reject) => {
    const socket = net.connect({ host, port });
    const onAbort = () => socket.destroy(new Error('aborted'));
    signal.addEventListener('abort', onAbort, { once: true });
    socket.on('error', (error) => {
      signal.removeEventListener('abort', onAbort);
      reject(error);
    });
    socket.once('connect', () => {
      signal.removeEventListener('abort', onAbort);
      resolve(socket);
    });
  });
}

function exchange(
  socket: net.Socket,
  hostHeader: string,
  request: HttpRequest,
  signal: AbortSignal,
): Promise<HttpResponse> {
  return new Promise((resolve, reject) => {
    const body = request.body ?? Buffer.alloc(0);
    const req = http.request({
      method: request.method,
      path: request.path,
      headers: {
        host: hostHeader,
        connection: 'close',
        'content-length': String(body.length),
        ...request.headers,
      },
      createConnection: () => socket,
      signal,
    });
    req.once('error', reject);
    req.once('response', (res) => {
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > MAX_RESPONSE_BYTES) {
          res.destroy(new TransportError('protocol', `the answer exceeds ${MAX_RESPONSE_BYTES} bytes`));
          return;
        }
        chunks.push(chunk);
      });
      res.once('error', reject);
      res.once('end', () =>
        resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
      );
    });
    req.end(body);
  });
}

const TLS_CODE = /CERT|SSL|TLS|SELF_SIGNED|UNABLE_TO|ALTNAME|HOSTNAME|EPROTO/;

function classify(error: unknown, where: string, timeoutMs: number, signal: AbortSignal): TransportError {
  if (error instanceof TransportError) return error;
  if (signal.aborted) return new TransportError('timeout', `no answer from ${where} within ${timeoutMs} ms`);
  const e = error as NodeJS.ErrnoException;
  const code = e.code ?? '';
  if (TLS_CODE.test(code) || /certificate|handshake/i.test(e.message ?? ''))
    return new TransportError(
      'tls',
      `TLS verification of ${where} failed (${code || 'error'}): ${e.message}; check controlPlane.caFile / pinnedSha256`,
    );
  if (code === 'ECONNREFUSED' || code === 'ENOTFOUND' || code === 'EAI_AGAIN' || code === 'EHOSTUNREACH')
    return new TransportError('network', `cannot reach ${where}: ${code}`);
  if (code === 'ECONNRESET' || code === 'EPIPE' || code === 'ETIMEDOUT' || code === 'ENETUNREACH')
    return new TransportError('network', `the connection to ${where} failed: ${code}`);
  return new TransportError(
    'network',
    `the request to ${where} failed: ${code ? `${code} ` : ''}${e.message}`,
  );
}
