import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { app, type HttpRequest, type HttpResponseInit } from '@azure/functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import { paths, routes } from '../../shared/contracts/routes';

/**
 * The Content-Security-Policy of every portal file: scripts, styles and data from this origin only, no inline
 * script or style, no frames, no plugins, forms only to this origin (the sign-in page).
 */
export const PORTAL_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "base-uri 'none'",
  "frame-ancestors 'none'",
].join('; ');

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.json': 'application/json; charset=utf-8',
};

interface PortalFile {
  body: Buffer;
  type: string;
  etag: string;
}

/** Every servable file under `dir` by its path relative to it ('/' separated): known types only, no dot files. */
export function loadPortalFiles(dir: string): Map<string, PortalFile> {
  const files = new Map<string, PortalFile>();
  const walk = (relative: string) => {
    for (const name of readdirSync(path.join(dir, relative))) {
      if (name.startsWith('.')) continue;
      const child = relative ? `${relative}/${name}` : name;
      const full = path.join(dir, child);
      if (statSync(full).isDirectory()) walk(child);
      else {
        const type = CONTENT_TYPES[path.extname(name).toLowerCase()];
        if (!type) continue;
        const body = readFileSync(full);
        const etag = `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"`;
        files.set(child, { body, type, etag });
      }
    }
  };
  walk('');
  return files;
}

/** Where the built portal is: `dist/portal` (this file runs as dist/functions/http/portal.js). */
const PORTAL_DIR = path.resolve(__dirname, '..', '..', 'portal');

let cache: Map<string, PortalFile> | undefined;

const notFound = (what: string): HttpResponseInit => ({
  status: 404,
  jsonBody: { error: { code: 'NotFound', message: `the portal has no file ${what}` } },
  headers: { 'cache-control': 'no-store' },
});

/**
 * GET /api/portal/{*path}: the operator portal's static files (index.html for the portal's root). Public: the files
 * hold no data; everything the portal shows comes from the role-checked API with the caller's own identity. Files
 * are read once (the set is fixed at build time), so a path outside it — `..` included — is simply not found.
 */
export function servePortal(
  request: HttpRequest,
  options: { dir?: string; files?: Map<string, PortalFile> } = {},
): HttpResponseInit {
  const files = options.files ?? (cache ??= loadPortalFiles(options.dir ?? PORTAL_DIR));
  const pathname = new URL(request.url).pathname;
  const wanted = request.params.path ?? '';
  // `/api/portal` → `/api/portal/`, so that the page's relative URLs resolve under it.
  if (wanted === '' && !pathname.endsWith('/'))
    return { status: 301, headers: { location: `${paths.portal()}/`, 'cache-control': 'no-store' } };
  const name = wanted === '' ? 'index.html' : wanted;
  const file = files.get(name);
  if (!file) return notFound(JSON.stringify(name.slice(0, 200)));
  const headers = {
    'content-type': file.type,
    'content-security-policy': PORTAL_CSP,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': 'no-cache',
    etag: file.etag,
  };
  if (request.headers.get('if-none-match') === file.etag) return { status: 304, headers };
  return { status: 200, headers, body: file.body };
}

app.http(FunctionNames.portal, {
  route: routes.portal,
  methods: ['GET'],
  authLevel: 'anonymous',
  handler: (request) => Promise.resolve(servePortal(request)),
});
