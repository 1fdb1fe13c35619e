import type { IncomingMessage } from 'node:http';
import type { FunctionsLibrary } from '../app/loadFunctionsApp';

/** Converts a Node request into the library's own `HttpRequest` (a GET or HEAD body is dropped, as the host does). */
export function toHttpRequest(
  library: FunctionsLibrary,
  req: IncomingMessage,
  url: URL,
  body: Buffer,
  params: Record<string, string>,
): unknown {
  const headers: Record<string, string> = {};
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
  }
  const query: Record<string, string> = {};
  url.searchParams.forEach((value, key) => (query[key] = value));
  const method = (req.method ?? 'GET').toUpperCase();
  const hasBody = body.length > 0 && method !== 'GET' && method !== 'HEAD';
  return new library.HttpRequest({
    method,
    url: url.toString(),
    headers,
    query,
    params,
    ...(hasBody ? { body: { bytes: new Uint8Array(body) } } : {}),
  });
}
