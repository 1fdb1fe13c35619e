import { readFileSync } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { UsageError } from './errors';

/** Where `failoverctl` talks to and how it authenticates. */
export interface Connection {
  /** The control plane's origin, e.g. `https://fp.example.net` (no `/api`). */
  url: string;
  /** `key`: a function or master key in `x-functions-key`; `entra`: a bearer token for `scope`. */
  auth: { kind: 'key'; key: string | undefined } | { kind: 'entra'; scope: string };
}

/** The profile file (`~/.config/failoverplane/profile.json`, or `FAILOVERPLANE_PROFILE`). */
export const profileSchema = z
  .object({
    url: z.string().url().optional(),
    key: z.string().min(1).optional(),
    auth: z.enum(['key', 'entra']).optional(),
    /** The Entra scope of the control plane's app registration, e.g. `api://<app id>/.default`. */
    scope: z.string().min(1).optional(),
  })
  .strict();
export type Profile = z.infer<typeof profileSchema>;

export interface ConnectionFlags {
  url?: string | undefined;
  key?: string | undefined;
  entra?: boolean | undefined;
  scope?: string | undefined;
}

/** The profile's path: `FAILOVERPLANE_PROFILE`, else `$XDG_CONFIG_HOME` or `~/.config`, `failoverplane/profile.json`. */
export function profilePath(env: NodeJS.ProcessEnv, home: string): string {
  if (env.FAILOVERPLANE_PROFILE) return env.FAILOVERPLANE_PROFILE;
  const base = env.XDG_CONFIG_HOME || path.join(home, '.config');
  return path.join(base, 'failoverplane', 'profile.json');
}

/** Reads the profile: `{}` when the file does not exist; a usage error naming the file when it is not valid. */
export function readProfile(file: string, explicit: boolean): Profile {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT' && !explicit) return {};
    throw new UsageError(
      `cannot read the profile ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new UsageError(`the profile ${file} is not JSON`);
  }
  const parsed = profileSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new UsageError(
      `the profile ${file} is invalid: ${issue ? `${issue.path.join('.') || '(file)'}: ${issue.message}` : 'unknown'}`,
    );
  }
  return parsed.data;
}

/**
 * The connection from the flags, else the environment (`FAILOVERPLANE_URL`, `FAILOVERPLANE_KEY`,
 * `FAILOVERPLANE_SCOPE`), else the profile; each setting on its own, in that order.
 */
export function resolveConnection(flags: ConnectionFlags, env: NodeJS.ProcessEnv, home: string): Connection {
  const file = profilePath(env, home);
  const profile = readProfile(file, Boolean(env.FAILOVERPLANE_PROFILE));
  const url = flags.url ?? env.FAILOVERPLANE_URL ?? profile.url;
  if (!url)
    throw new UsageError(`no control plane URL: pass --url, set FAILOVERPLANE_URL, or put "url" in ${file}`);
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new UsageError(`the URL ${JSON.stringify(url)} is not a URL`);
  }
  if (parsed.protocol !== 'http:' && parsed.protocol !== 'https:')
    throw new UsageError(`the URL must be http or https (got ${parsed.protocol})`);
  const origin = `${parsed.origin}${parsed.pathname.replace(/\/+$/, '')}`;
  const entra =
    flags.entra === true || (flags.key === undefined && !env.FAILOVERPLANE_KEY && profile.auth === 'entra');
  if (entra) {
    const scope = flags.scope ?? env.FAILOVERPLANE_SCOPE ?? profile.scope;
    if (!scope)
      throw new UsageError(
        `--entra needs a scope: pass --scope, set FAILOVERPLANE_SCOPE, or put "scope" in ${file}`,
      );
    return { url: origin, auth: { kind: 'entra', scope } };
  }
  return { url: origin, auth: { kind: 'key', key: flags.key ?? env.FAILOVERPLANE_KEY ?? profile.key } };
}
