import type { Role } from './roles';

/** Who is calling, once authenticated: a signed-in user (the platform's principal) or an automation key. */
export type Caller =
  | {
      kind: 'user';
      name: string | undefined;
      objectId: string | undefined;
      roles: Role[];
      /** As recorded in the audit log: `user:<name> (<oid>)`, `user:<name>` or `user:<oid>`. */
      actor: string;
    }
  | { kind: 'key'; name: string; roles: Role[]; actor: string };

/** The audit actor of a user: the name (what people read) and the object id (what stays true). */
export function userActor(name: string | undefined, objectId: string | undefined): string {
  if (name && objectId) return `user:${name} (${objectId})`;
  return `user:${name ?? objectId ?? 'unknown'}`;
}
