import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parse } from 'yaml';

/** A user of the emulated sign-in: a name, the Entra app roles they hold, an object id. */
export interface LocalUser {
  name: string;
  roles: string[];
  objectId: string;
}

export class LocalUsersError extends Error {
  override readonly name = 'LocalUsersError';
}

/** A stable, made-up object id for a name (a UUID-shaped digest), when the file gives none. */
export function objectIdFor(name: string): string {
  const h = createHash('sha256').update(`devhost-user:${name}`).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

export const DEFAULT_USERS_YAML = `# Users of the devhost's sign-in page (/.auth/login), which emulates App Service Authentication.
# roles: the Entra app roles the user holds (the control plane knows viewer, operator, admin).
# objectId (optional): the user's object id; a stable one is made up from the name otherwise.
users:
  - name: viewer@example.test
    roles: [viewer]
  - name: operator@example.test
    roles: [operator]
  - name: admin@example.test
    roles: [admin]
`;

/** Parses a users file's text; every problem is reported with the entry's position. */
export function parseLocalUsers(text: string, source = 'users.yaml'): LocalUser[] {
  let value: unknown;
  try {
    value = parse(text);
  } catch (error) {
    throw new LocalUsersError(`${source} is not valid YAML: ${(error as Error).message}`);
  }
  const list = (value as { users?: unknown } | null)?.users;
  if (!Array.isArray(list) || list.length === 0)
    throw new LocalUsersError(`${source} must have a non-empty "users" list`);
  return list.map((entry: unknown, index) => {
    const where = `${source} users[${index}]`;
    const { name, roles, objectId } = (entry ?? {}) as Record<string, unknown>;
    if (typeof name !== 'string' || !/^[^\s<>"'&]{1,100}$/.test(name))
      throw new LocalUsersError(`${where}: name must be 1-100 characters without spaces, quotes, < > or &`);
    if (!Array.isArray(roles) || !roles.every((r) => typeof r === 'string' && /^[\w.-]{1,64}$/.test(r)))
      throw new LocalUsersError(`${where}: roles must be a list of role names`);
    if (objectId !== undefined && (typeof objectId !== 'string' || !/^[\w-]{1,64}$/.test(objectId)))
      throw new LocalUsersError(`${where}: objectId must be letters, digits and dashes`);
    return { name, roles: roles as string[], objectId: objectId ?? objectIdFor(name) };
  });
}

/** Reads `file`, creating it with the default viewer, operator and admin users on first use. */
export function loadOrCreateLocalUsers(file: string): LocalUser[] {
  if (!existsSync(file)) {
    mkdirSync(path.dirname(file), { recursive: true });
    writeFileSync(file, DEFAULT_USERS_YAML, { mode: 0o600 });
  }
  return parseLocalUsers(readFileSync(file, 'utf8'), file);
}
