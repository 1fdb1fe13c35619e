import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { BodyTooLargeError, json, jsonError, readBody, type WireReply } from '../http/wire';
import { DEFAULT_APPLICATIONS, type LocalApplication } from './localApplications';
import type { LocalUser } from './localUsers';
import { loginPage } from './loginPage';

/** The platform's session cookie name. */
export const SESSION_COOKIE = 'AppServiceAuthSession';

/** The principal headers the platform sets, and strips from what clients send. */
export const PRINCIPAL_HEADERS = [
  'x-ms-client-principal',
  'x-ms-client-principal-id',
  'x-ms-client-principal-name',
  'x-ms-client-principal-idp',
] as const;

const OBJECT_ID_CLAIM = 'http://schemas.microsoft.com/identity/claims/objectidentifier';
/** The claim types App Service Authentication names in `name_typ` and `role_typ` for Entra ID tokens. */
const ENTRA_NAME_TYPE = 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name';
const ENTRA_ROLE_TYPE = 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role';
/** How long a devhost-issued bearer token is good for (Entra's usual hour). */
const TOKEN_LIFETIME_SECONDS = 3600;
const MAX_FORM_BYTES = 16 * 1024;

/** App Service Authentication, emulated: sign-in, sessions, and the principal headers injected into requests. */
export interface EasyAuth {
  /**
   * A `/.auth/*` request: its reply. Any other request: the client's principal headers are removed and, with a
   * valid session cookie, the platform's are set (the request's headers are changed in place); undefined.
   */
  handle(req: IncomingMessage, url: URL, method: string): Promise<WireReply | undefined>;
}

const claimsOf = (user: LocalUser) => [
  { typ: 'name', val: user.name },
  { typ: 'preferred_username', val: user.name },
  { typ: OBJECT_ID_CLAIM, val: user.objectId },
  ...user.roles.map((role) => ({ typ: 'roles', val: role })),
];

/** The `x-ms-client-principal` value for a user, as the platform encodes it. */
export function principalHeader(user: LocalUser): string {
  return Buffer.from(
    JSON.stringify({ auth_typ: 'aad', claims: claimsOf(user), name_typ: 'name', role_typ: 'roles' }),
  ).toString('base64');
}

/**
 * The `x-ms-client-principal` of an application's bearer token, as the platform encodes an app-only Entra token: no
 * name, the app id and the service principal's object id, its app roles as `roles` claims, and the platform's
 * `name_typ`/`role_typ` (the role claims' own type is `roles`, not `role_typ`: readers take both).
 */
export function applicationPrincipalHeader(application: LocalApplication): string {
  const claims = [
    { typ: 'appid', val: application.appId },
    { typ: 'azp', val: application.appId },
    { typ: OBJECT_ID_CLAIM, val: application.objectId },
    ...application.roles.map((role) => ({ typ: 'roles', val: role })),
  ];
  return Buffer.from(
    JSON.stringify({ auth_typ: 'aad', claims, name_typ: ENTRA_NAME_TYPE, role_typ: ENTRA_ROLE_TYPE }),
  ).toString('base64');
}

function bearerToken(req: IncomingMessage): string | undefined {
  const match = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '');
  return match?.[1];
}

/** A redirect target: a path on this host only (no open redirect), `fallback` otherwise. */
function localPath(value: string | null | undefined, fallback: string): string {
  if (!value || !value.startsWith('/') || value.startsWith('//') || value.includes('\\')) return fallback;
  return value;
}

function cookieValue(header: string | undefined, name: string): string | undefined {
  for (const part of (header ?? '').split(';')) {
    const eq = part.indexOf('=');
    if (eq > 0 && part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

const html = (status: number, body: string, headers: Record<string, string | string[]> = {}): WireReply => ({
  status,
  headers: {
    'content-type': 'text/html; charset=utf-8',
    'content-security-policy': "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'",
    'cache-control': 'no-store',
    ...headers,
  },
  body,
});

const redirect = (location: string, cookie: string): WireReply => ({
  status: 302,
  headers: { location, 'set-cookie': [cookie], 'cache-control': 'no-store' },
});

/**
 * `users` sign in on the login page (a session cookie); `applications` get bearer tokens from
 * `POST /.auth/devhost/token` (the emulated tenant's token endpoint, form `client_id=<name or appId>`), which the
 * platform turns into their principal — as App Service Authentication does with an Entra token. A bearer token the
 * devhost did not issue is refused with 401, as the platform refuses an invalid token.
 */
export function createEasyAuth(
  users: readonly LocalUser[],
  applications: readonly LocalApplication[] = DEFAULT_APPLICATIONS,
): EasyAuth {
  const sessions = new Map<string, LocalUser>();
  const tokens = new Map<string, { application: LocalApplication; expiresAt: number }>();
  const sessionUser = (req: IncomingMessage) => {
    const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
    return id ? sessions.get(id) : undefined;
  };

  async function auth(req: IncomingMessage, url: URL, method: string): Promise<WireReply> {
    const path = url.pathname.replace(/\/+$/, '');
    if ((path === '/.auth/login' || path === '/.auth/login/aad') && method === 'GET')
      return html(200, loginPage(users, localPath(url.searchParams.get('post_login_redirect_uri'), '/')));
    if ((path === '/.auth/login' || path === '/.auth/login/aad') && method === 'POST') {
      let form: URLSearchParams;
      try {
        form = new URLSearchParams((await readBody(req, MAX_FORM_BYTES)).toString('utf8'));
      } catch (error) {
        if (error instanceof BodyTooLargeError)
          return jsonError(413, 'PayloadTooLarge', `a sign-in form is at most ${MAX_FORM_BYTES} bytes`);
        throw error;
      }
      const target = localPath(form.get('post_login_redirect_uri'), '/');
      const user = users.find((u) => u.name === form.get('user'));
      if (!user) return html(400, loginPage(users, target, 'Choose one of the users below.'));
      const id = randomBytes(32).toString('base64url');
      sessions.set(id, user);
      return redirect(target, `${SESSION_COOKIE}=${id}; Path=/; HttpOnly; SameSite=Lax`);
    }
    if (path === '/.auth/devhost/token' && method === 'POST') {
      let form: URLSearchParams;
      try {
        form = new URLSearchParams((await readBody(req, MAX_FORM_BYTES)).toString('utf8'));
      } catch (error) {
        if (error instanceof BodyTooLargeError)
          return jsonError(413, 'PayloadTooLarge', `a token request is at most ${MAX_FORM_BYTES} bytes`);
        throw error;
      }
      const client = form.get('client_id') ?? '';
      const application = applications.find((a) => a.name === client || a.appId === client);
      if (!application)
        return jsonError(
          400,
          'UnknownClient',
          `client_id must name an application of the devhost's tenant: ${applications.map((a) => a.name).join(', ') || 'none'}`,
        );
      const token = randomBytes(32).toString('base64url');
      tokens.set(token, { application, expiresAt: Date.now() + TOKEN_LIFETIME_SECONDS * 1000 });
      return json(
        200,
        { token_type: 'Bearer', access_token: token, expires_in: TOKEN_LIFETIME_SECONDS },
        { 'cache-control': 'no-store' },
      );
    }
    if (path === '/.auth/me' && method === 'GET') {
      const user = sessionUser(req);
      if (!user) return jsonError(401, 'NotSignedIn', 'no session: sign in at /.auth/login');
      return json(200, [{ provider_name: 'aad', user_id: user.name, user_claims: claimsOf(user) }], {
        'cache-control': 'no-store',
      });
    }
    if (path === '/.auth/logout' && method === 'GET') {
      const id = cookieValue(req.headers.cookie, SESSION_COOKIE);
      if (id) sessions.delete(id);
      return redirect(
        localPath(url.searchParams.get('post_logout_redirect_uri'), '/.auth/login'),
        `${SESSION_COOKIE}=; Path=/; HttpOnly; SameSite=Lax; Max-Age=0`,
      );
    }
    return jsonError(404, 'NotFound', `No authentication endpoint ${method} ${url.pathname}`);
  }

  return {
    async handle(req, url, method) {
      if (url.pathname === '/.auth' || url.pathname.startsWith('/.auth/')) return auth(req, url, method);
      for (const name of PRINCIPAL_HEADERS) delete req.headers[name];
      const token = bearerToken(req);
      if (token !== undefined) {
        const issued = tokens.get(token);
        if (!issued || issued.expiresAt <= Date.now()) {
          tokens.delete(token);
          return jsonError(
            401,
            'InvalidToken',
            'the bearer token is not valid (devhost: get one from POST /.auth/devhost/token)',
          );
        }
        const { application } = issued;
        req.headers['x-ms-client-principal'] = applicationPrincipalHeader(application);
        req.headers['x-ms-client-principal-id'] = application.objectId;
        req.headers['x-ms-client-principal-name'] = application.appId;
        req.headers['x-ms-client-principal-idp'] = 'aad';
        return undefined;
      }
      const user = sessionUser(req);
      if (user) {
        req.headers['x-ms-client-principal'] = principalHeader(user);
        req.headers['x-ms-client-principal-id'] = user.objectId;
        req.headers['x-ms-client-principal-name'] = user.name;
        req.headers['x-ms-client-principal-idp'] = 'aad';
      }
      return undefined;
    },
  };
}
