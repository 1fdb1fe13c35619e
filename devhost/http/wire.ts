import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';

export interface WireRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: Buffer;
}

export interface WireReply {
  status: number;
  /** A `string[]` value is sent as repeated headers (`set-cookie` must never be comma-joined). */
  headers?: Record<string, string | string[]>;
  body?: Buffer | string;
}

export function json(status: number, value: unknown, headers: Record<string, string> = {}): WireReply {
  return {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', ...headers },
    body: JSON.stringify(value),
  };
}

/** A JSON error body: `{ error: { code, message } }`, the shape every devhost endpoint uses. */
export function jsonError(
  status: number,
  code: string,
  message: string,
  extra: Record<string, unknown> = {},
): WireReply {
  return json(status, { error: { code, message, ...extra } });
}

export class BodyTooLargeError extends Error {
  override readonly name = 'BodyTooLargeError';
}

/**
 * Reads a request body, refusing once it passes `limit` bytes: a declared Content-Length over the limit is refused
 * before a byte is read, and a body that grows past it stops being read (the request is paused, not destroyed, so
 * the caller can still answer 413).
 */
export function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit)
    return Promise.reject(new BodyTooLargeError(`body of ${declared} bytes exceeds ${limit}`));
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const cleanup = () => {
      req.off('data', onData);
      req.off('end', onEnd);
      req.off('error', onError);
      req.off('aborted', onAborted);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        req.pause();
        chunks.length = 0;
        reject(new BodyTooLargeError(`body exceeds ${limit} bytes`));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = () => {
      cleanup();
      resolve(Buffer.concat(chunks));
    };
    const onError = (error: Error) => {
      cleanup();
      reject(error);
    };
    const onAborted = () => onError(new Error('the client aborted the request'));
    req.on('data', onData);
    req.on('end', onEnd);
    req.on('error', onError);
    req.on('aborted', onAborted);
  });
}

export function send(res: ServerResponse, reply: WireReply): void {
  const body =
    reply.body === undefined
      ? Buffer.alloc(0)
      : Buffer.isBuffer(reply.body)
        ? reply.body
        : Buffer.from(reply.body);
  res.statusCode = reply.status;
  for (const [name, value] of Object.entries(reply.headers ?? {})) res.setHeader(name, value);
  res.setHeader('content-length', body.length);
  res.end(body);
}

/**
 * Answers before (or without) reading the request body: the connection is closed after the reply, and what the
 * client still sends is discarded as it arrives (never buffered); a client that keeps sending is cut off after
 * `cutOffMs`.
 */
export function answerEarly(
  req: IncomingMessage,
  res: ServerResponse,
  reply: WireReply,
  cutOffMs = 1000,
): void {
  if (req.complete) {
    send(res, reply);
    return;
  }
  const socket = req.socket as Socket | null; // detached from req once the response finishes
  send(res, { ...reply, headers: { ...reply.headers, connection: 'close' } });
  res.once('finish', () => {
    if (req.complete || !socket || socket.destroyed) return;
    req.resume(); // discard, chunk by chunk
    const timer = setTimeout(() => socket.destroy(), cutOffMs);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}

/** A raw 400 (431, 408) JSON reply for a request Node could not parse (the server's `clientError` event). */
export function answerClientError(error: Error & { code?: string }, socket: Duplex): void {
  if (!socket.writable || error.code === 'ECONNRESET') {
    socket.destroy();
    return;
  }
  const [status, text] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'Request Header Fields Too Large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'Request Timeout']
        : [400, 'Bad Request'];
  const body = JSON.stringify({ error: { code: 'BadRequest', message: 'The request could not be parsed.' } });
  socket.end(
    `HTTP/1.1 ${status} ${text}\r\ncontent-type: application/json; charset=utf-8\r\n` +
      `content-length: ${Buffer.byteLength(body)}\r\nconnection: close\r\n\r\n${body}`,
  );
}
