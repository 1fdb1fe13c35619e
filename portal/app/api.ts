import type { Role } from './types.js';

/** A refusal or failure of the API: its status, the error code and message, and the whole body. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly body: unknown,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/** The API's error body `{error: {code, message, ...}}`, read leniently. */
export function errorFields(body: unknown): Record<string, unknown> {
  if (body && typeof body === 'object' && 'error' in body) {
    const error = body.error;
    if (error && typeof error === 'object') return error as Record<string, unknown>;
  }
  return {};
}

/**
 * A same-origin JSON request to the API: the browser sends the App Service Authentication session cookie, the
 * platform (or the devhost) turns it into the caller's identity, and the API checks the caller's role.
 */
export async function api<T>(path: string, init: { method?: string; body?: unknown } = {}): Promise<T> {
  const response = await fetch(path, {
    method: init.method ?? 'GET',
    credentials: 'same-origin',
    headers: {
      accept: 'application/json',
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
    },
    ...(init.body !== undefined ? { body: JSON.stringify(init.body) } : {}),
  });
  const text = await response.text();
  let body: unknown;
  try {
    body = text ? JSON.parse(text) : undefined;
  } catch {
    body = text;
  }
  if (!response.ok) {
    const error = errorFields(body);
    const code = typeof error.code === 'string' ? error.code : `HTTP${response.status}`;
    const message =
      typeof error.message === 'string' ? error.message : `${response.status} ${response.statusText}`;
    throw new ApiError(response.status, code, message, body);
  }
  return body as T;
}

/** The API's paths (as shared/contracts/routes.ts `paths` builds them; ids are percent-encoded here). */
const e = encodeURIComponent;
const cluster = (id: string) => `/api/v1/clusters/${e(id)}`;
export const apiPaths = {
  clusters: () => '/api/v1/clusters',
  cluster,
  clusterStatus: (id: string) => `${cluster(id)}/status`,
  makeActive: (id: string) => `${cluster(id)}/makeactive`,
  failover: (id: string) => `${cluster(id)}/failover`,
  witnessBreak: (id: string, reason: string) => `${cluster(id)}/witness/break?reason=${e(reason)}`,
  operations: (id: string) => `${cluster(id)}/operations`,
  operation: (id: string, operationId: string) => `${cluster(id)}/operations/${e(operationId)}`,
  audit: (id: string) => `${cluster(id)}/audit`,
  drills: (id: string) => `${cluster(id)}/drills`,
  drill: (id: string, drillId: string) => `${cluster(id)}/drills/${e(drillId)}`,
  pool: (id: string, poolId: string) => `${cluster(id)}/pools/${e(poolId)}`,
  poolDemand: (id: string, poolId: string) => `${cluster(id)}/pools/${e(poolId)}/demand`,
  poolNodes: (id: string, poolId: string) => `${cluster(id)}/pools/${e(poolId)}/nodes`,
};

/** The signed-in user (App Service Authentication's `/.auth/me`), or null when nobody is signed in. */
export interface Session {
  name: string;
  /** The highest role the user's claims give (null: signed in, but no role of the app). */
  role: Role | null;
}

const RANK: Record<Role, number> = { viewer: 1, operator: 2, admin: 3 };

/** Whether a session's role includes `needed` (admin ⊃ operator ⊃ viewer). */
export const can = (session: Session | null, needed: Role): boolean =>
  session?.role !== null && session?.role !== undefined && RANK[session.role] >= RANK[needed];

export async function loadSession(): Promise<Session | null> {
  const response = await fetch('/.auth/me', {
    credentials: 'same-origin',
    headers: { accept: 'application/json' },
  });
  if (!response.ok) return null;
  const body = (await response.json()) as unknown;
  // The platform answers an array of identities (empty when signed out).
  const identity = Array.isArray(body) ? (body[0] as Record<string, unknown> | undefined) : undefined;
  if (!identity) return null;
  const claims = Array.isArray(identity.user_claims)
    ? (identity.user_claims as { typ: string; val: string }[])
    : [];
  const roles = claims
    .filter(
      (c) => c.typ === 'roles' || c.typ === 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
    )
    .map((c) => c.val)
    .filter((r): r is Role => r === 'viewer' || r === 'operator' || r === 'admin');
  const role = roles.reduce<Role | null>(
    (best, r) => (best === null || RANK[r] > RANK[best] ? r : best),
    null,
  );
  const name =
    typeof identity.user_id === 'string'
      ? identity.user_id
      : (claims.find((c) => c.typ === 'name')?.val ?? 'signed in');
  return { name, role };
}
