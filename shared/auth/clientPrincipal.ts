import { isRole, type Role } from './roles';

/** The header App Service Authentication ("Easy Auth") adds to every authenticated request. */
export const CLIENT_PRINCIPAL_HEADER = 'x-ms-client-principal';

/** Every header of the platform's principal family (stripped from client requests by the platform, and the devhost). */
export const CLIENT_PRINCIPAL_HEADERS = [
  CLIENT_PRINCIPAL_HEADER,
  'x-ms-client-principal-id',
  'x-ms-client-principal-name',
  'x-ms-client-principal-idp',
] as const;

/** The claim types read, besides the principal's own `name_typ` and `role_typ`. */
export const CLAIM_TYPES = {
  roles: ['roles', 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role'],
  name: ['name', 'preferred_username', 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name'],
  objectId: ['http://schemas.microsoft.com/identity/claims/objectidentifier', 'oid'],
} as const;

/** A signed-in user as the platform describes them. */
export interface ClientPrincipal {
  /** `aad` for Entra ID. */
  authType: string;
  /** The display or sign-in name (may be absent; then the object id names the user). */
  name: string | undefined;
  /** The Entra object id (`oid`). */
  objectId: string | undefined;
  /** The control plane's roles among the principal's app roles (others are ignored). */
  roles: Role[];
}

/** A principal header that cannot be read (401). */
export type InvalidPrincipal = { ok: false; code: 'InvalidClientPrincipal'; message: string };

export type PrincipalOutcome = { ok: true; principal: ClientPrincipal } | InvalidPrincipal;

const MAX_HEADER_CHARS = 16 * 1024;
const MAX_TEXT = 200;

const invalid = (message: string): InvalidPrincipal => ({
  ok: false,
  code: 'InvalidClientPrincipal',
  message: `the x-ms-client-principal header ${message}`,
});

/** A claim value as recorded: control characters dropped, at most 200 characters. */
const clean = (value: string) =>
  // eslint-disable-next-line no-control-regex
  value.replace(/[\u0000-\u001f\u007f]/g, '').slice(0, MAX_TEXT);

/** The claims of a principal header, decoded and shape-checked but not interpreted. */
export interface PrincipalClaims {
  authType: string | undefined;
  claims: { typ: string; val: string }[];
  /** The claim type naming the principal (`name_typ`), when given. */
  nameType: string | undefined;
  /** The claim type of its roles (`role_typ`), when given: Entra app roles also come as `roles` claims. */
  roleType: string | undefined;
}

/** Decodes `x-ms-client-principal` (base64 of JSON `{auth_typ, claims: [{typ, val}], name_typ, role_typ}`). */
export function readPrincipalClaims(header: string): { ok: true; value: PrincipalClaims } | InvalidPrincipal {
  const text = header.trim();
  if (!text) return invalid('is empty');
  if (text.length > MAX_HEADER_CHARS) return invalid('is too large');
  if (!/^[A-Za-z0-9+/_-]+={0,2}$/.test(text)) return invalid('is not base64');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(text, 'base64').toString('utf8'));
  } catch {
    return invalid('is not base64 of JSON');
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    return invalid('is not a JSON object');
  const record = value as Record<string, unknown>;
  const claims = record.claims;
  if (!Array.isArray(claims)) return invalid('has no claims');
  const pairs: { typ: string; val: string }[] = [];
  for (const claim of claims) {
    if (typeof claim !== 'object' || claim === null) return invalid('has a claim that is not {typ, val}');
    const { typ, val } = claim as Record<string, unknown>;
    if (typeof typ !== 'string' || typeof val !== 'string')
      return invalid('has a claim that is not {typ, val}');
    pairs.push({ typ, val });
  }
  return {
    ok: true,
    value: {
      authType: typeof record.auth_typ === 'string' ? record.auth_typ : undefined,
      claims: pairs,
      nameType: typeof record.name_typ === 'string' ? record.name_typ : undefined,
      roleType: typeof record.role_typ === 'string' ? record.role_typ : undefined,
    },
  };
}

/** Every role claim value of a principal (its `role_typ` claims and the usual role claim types), trimmed. */
export function roleClaimValues(principal: PrincipalClaims): string[] {
  const roleTypes = new Set<string>([
    ...(principal.roleType ? [principal.roleType] : []),
    ...CLAIM_TYPES.roles,
  ]);
  return [...new Set(principal.claims.filter((c) => roleTypes.has(c.typ)).map((c) => c.val.trim()))].filter(
    (v) => v.length > 0,
  );
}

/** The principal's object id (`oid`) and name as recorded (cleaned), when present. */
export function principalIdentity(principal: PrincipalClaims): {
  name: string | undefined;
  objectId: string | undefined;
} {
  const first = (types: readonly string[]) =>
    types
      .map((t) => principal.claims.find((c) => c.typ === t && c.val.trim())?.val)
      .find((v) => v !== undefined);
  const name = first([...(principal.nameType ? [principal.nameType] : []), ...CLAIM_TYPES.name]);
  const objectId = first(CLAIM_TYPES.objectId);
  return { name: name ? clean(name) : undefined, objectId: objectId ? clean(objectId) : undefined };
}

/**
 * Reads the platform's `x-ms-client-principal` (base64 of JSON `{auth_typ, claims: [{typ, val}], name_typ,
 * role_typ}`). Trust it only when the app runs behind App Service Authentication (`AUTH_TRUST_CLIENT_PRINCIPAL`):
 * otherwise anyone can send it. Roles are the values of the role claims that name a control-plane role.
 */
export function parseClientPrincipal(header: string): PrincipalOutcome {
  const read = readPrincipalClaims(header);
  if (!read.ok) return read;
  const principal = read.value;
  const { name, objectId } = principalIdentity(principal);
  if (!name && !objectId) return invalid('names nobody (no name or object id claim)');
  const roles = [...new Set(roleClaimValues(principal).map((v) => v.toLowerCase()))].filter(isRole);
  return {
    ok: true,
    principal: {
      authType: principal.authType ? clean(principal.authType) : '',
      name,
      objectId,
      roles,
    },
  };
}

/** The header value the platform would send for a principal (the devhost and tests build it). */
export function encodeClientPrincipal(input: {
  name: string;
  objectId: string;
  roles: readonly string[];
  authType?: string;
}): string {
  const claims = [
    { typ: 'name', val: input.name },
    { typ: 'preferred_username', val: input.name },
    { typ: CLAIM_TYPES.objectId[0], val: input.objectId },
    ...input.roles.map((role) => ({ typ: 'roles', val: role })),
  ];
  return Buffer.from(
    JSON.stringify({
      auth_typ: input.authType ?? 'aad',
      claims,
      name_typ: 'name',
      role_typ: 'roles',
    }),
  ).toString('base64');
}
