/**
 * The operator roles, weakest first: each includes every role before it (admin ⊇ operator ⊇ viewer).
 * - `viewer`: every read.
 * - `operator`: make-active, failover, starting drills, pool demand and plan.
 * - `admin`: declaring and replacing clusters, node keys, breaking the witness, deleting clusters.
 */
export const ROLES = ['viewer', 'operator', 'admin'] as const;

export type Role = (typeof ROLES)[number];

export function isRole(value: string): value is Role {
  return (ROLES as readonly string[]).includes(value);
}

/** Whether a caller holding `granted` may do what needs `needed`. */
export function roleIncludes(granted: Role, needed: Role): boolean {
  return ROLES.indexOf(granted) >= ROLES.indexOf(needed);
}

/** The strongest of `roles`, or undefined when there is none. */
export function strongestRole(roles: readonly Role[]): Role | undefined {
  let best: Role | undefined;
  for (const role of roles) if (!best || roleIncludes(role, best)) best = role;
  return best;
}
