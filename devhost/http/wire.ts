import type { IncomingMessage, ServerResponse } from 'node:http';

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

/** Reads a request body, refusing (without buffering the rest) once it passes `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? NaN);
  if (Number.isFinite(declared) && declared > limit)
    throw new BodyTooLargeError(`body of ${declared} bytes exceeds ${limit}`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    const buffer = chunk as Buffer;
    size += buffer.length;
    if (size > limit) throw new BodyTooLargeError(`body exceeds ${limit} bytes`);
    chunks.push(buffer);
  }
  return Buffer.concat(chunks);
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
