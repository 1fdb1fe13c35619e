import type { FunctionsLibrary } from '../app/loadFunctionsApp';

export interface WireResponse {
  status: number;
  headers: [string, string][];
  body: Buffer;
}

interface LibraryHttpResponse {
  status: number;
  headers: Headers;
  cookies: {
    name: string;
    value: string;
    domain?: string;
    path?: string;
    expires?: Date | number;
    maxAge?: number;
    httpOnly?: boolean;
    secure?: boolean;
    sameSite?: string;
  }[];
  arrayBuffer(): Promise<ArrayBuffer>;
}

/** Normalises a handler's result (an `HttpResponse` or an init object) through the library's `HttpResponse`. */
export async function fromHttpResponse(library: FunctionsLibrary, result: unknown): Promise<WireResponse> {
  const response = (
    result instanceof library.HttpResponse ? result : new library.HttpResponse(result ?? {})
  ) as LibraryHttpResponse;
  const headers: [string, string][] = [];
  response.headers.forEach((value, name) => headers.push([name, value]));
  for (const cookie of response.cookies ?? []) {
    let text = `${cookie.name}=${cookie.value}`;
    if (cookie.domain) text += `; Domain=${cookie.domain}`;
    if (cookie.path) text += `; Path=${cookie.path}`;
    if (cookie.expires !== undefined) text += `; Expires=${new Date(cookie.expires).toUTCString()}`;
    if (cookie.maxAge !== undefined) text += `; Max-Age=${cookie.maxAge}`;
    if (cookie.httpOnly) text += '; HttpOnly';
    if (cookie.secure) text += '; Secure';
    if (cookie.sameSite) text += `; SameSite=${cookie.sameSite}`;
    headers.push(['set-cookie', text]);
  }
  const body = Buffer.from(await response.arrayBuffer());
  return { status: response.status ?? 200, headers, body };
}
