import { matchApiKey, type ApiKey } from './apiKeys';
import { userActor, type Caller } from './caller';
import { CLIENT_PRINCIPAL_HEADER, parseClientPrincipal } from './clientPrincipal';
import { roleIncludes, strongestRole, type Role } from './roles';

/** How the app authenticates operators (`Config.auth`). */
export interface AuthSettings {
  /** `AUTH_TRUST_CLIENT_PRINCIPAL=true`: the app runs behind App Service Authentication, which sets the header. */
  readonly trustClientPrincipal: boolean;
  /** `AUTH_KEYS`: keys for automation, each with a role. */
  readonly keys: readonly ApiKey[];
}

/** The parts of a request authentication reads. */
export interface Credentials {
  header(name: string): string | null | undefined;
  query(name: string): string | null | undefined;
}

export type AuthFailure = { ok: false; status: 401 | 403; code: string; message: string } & Record<
  string,
  unknown
>;

export type Authentication = { ok: true; caller: Caller } | AuthFailure;

/**
 * Who is calling: a key (`x-functions-key` header or `code` query parameter, checked against `AUTH_KEYS`) when one
 * is presented — a wrong key is refused, never passed over for the principal —, else the platform's principal when
 * trusted. An untrusted principal header is ignored: without a key that is 401, as with nothing at all.
 */
export function authenticate(credentials: Credentials, settings: AuthSettings): Authentication {
  const presented = credentials.header('x-functions-key') || credentials.query('code');
  if (presented) {
    const key = matchApiKey(settings.keys, presented);
    if (!key) return { ok: false, status: 401, code: 'InvalidKey', message: 'the key is not valid' };
    return { ok: true, caller: { kind: 'key', name: key.name, roles: [key.role], actor: `key:${key.name}` } };
  }
  const header = credentials.header(CLIENT_PRINCIPAL_HEADER);
  if (header && settings.trustClientPrincipal) {
    const parsed = parseClientPrincipal(header);
    if (!parsed.ok) return { ok: false, status: 401, code: parsed.code, message: parsed.message };
    const { name, objectId, roles } = parsed.principal;
    return { ok: true, caller: { kind: 'user', name, objectId, roles, actor: userActor(name, objectId) } };
  }
  return {
    ok: false,
    status: 401,
    code: 'Unauthenticated',
    message: settings.trustClientPrincipal
      ? 'sign in (/.auth/login) or send a key (x-functions-key header)'
      : 'send a key (x-functions-key header or code query parameter)',
  };
}

/** 403 unless the caller holds `needed` (or a stronger role); the refusal names the role. */
export function authorizeCaller(caller: Caller, needed: Role): Authentication {
  const held = strongestRole(caller.roles);
  if (held && roleIncludes(held, needed)) return { ok: true, caller };
  return {
    ok: false,
    status: 403,
    code: 'MissingRole',
    message: `this needs the ${needed} role; ${caller.actor} has ${held ? `only ${held}` : 'no role'}`,
    requiredRole: needed,
  };
}
