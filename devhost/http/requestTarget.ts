import type { IncomingMessage } from 'node:http';
import { jsonError, type WireReply } from './wire';

// A Host header: a reg-name or IPv4 address, or a bracketed IPv6 literal, with an optional port (RFC 9110 §7.2).
const HOST = /^(?:\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-._~!$&'()*+,;=%]+)(?::(\d{1,5}))?$/;

/** Whether every segment of a URL path decodes (`%ZZ`, a lone `%E0`, ... do not). */
export function hasValidPercentEncoding(pathname: string): boolean {
  for (const segment of pathname.split('/')) {
    try {
      decodeURIComponent(segment);
    } catch {
      return false;
    }
  }
  return true;
}

/**
 * The URL of a request, built from its Host header and request target, or the 400 to answer. Never throws: a
 * malformed request must not become an exception outside the server's error handling.
 */
export function parseRequestTarget(req: IncomingMessage): { url: URL } | { error: WireReply } {
  const host = req.headers.host;
  if (host === undefined || host.length === 0) {
    return { error: jsonError(400, 'BadRequest', 'The request has no Host header.') };
  }
  const hostMatch = HOST.exec(host);
  if (!hostMatch || (hostMatch[1] !== undefined && Number(hostMatch[1]) > 65535)) {
    return { error: jsonError(400, 'BadRequest', 'The Host header is not a valid host[:port].') };
  }
  let target = req.url ?? '';
  if (!target.startsWith('/')) {
    // absolute-form (`GET http://host/path`): keep its path and query, the origin comes from Host.
    try {
      const absolute = new URL(target);
      if (absolute.protocol !== 'http:' && absolute.protocol !== 'https:') throw new TypeError(target);
      target = `${absolute.pathname}${absolute.search}`;
    } catch {
      return { error: jsonError(400, 'BadRequest', 'The request target is not a path.') };
    }
  }
  let url: URL;
  try {
    url = new URL(`http://${host}${target}`);
  } catch {
    return { error: jsonError(400, 'BadRequest', 'The request URL is not valid.') };
  }
  if (!hasValidPercentEncoding(url.pathname)) {
    return {
      error: jsonError(400, 'InvalidPercentEncoding', 'The request path has a malformed percent-encoding.'),
    };
  }
  return { url };
}
