import { inspect } from 'node:util';
import type { AccessToken, TokenCredential } from '@azure/identity';

/**
 * A credential that always hands out the same bearer token: for the local cloud simulator (which checks that a
 * token is there, not what it says) and for tests. The token is held in a private field, so it does not show in
 * `JSON.stringify`, `util.inspect` or an error that captured the credential. Production uses
 * `createAzureCredential` (managed identity).
 */
export class StaticTokenCredential implements TokenCredential {
  readonly #token: string;
  readonly #lifetimeMs: number;
  readonly #now: () => number;

  constructor(token: string, options: { lifetimeMs?: number; now?: () => number } = {}) {
    if (!token.trim()) throw new TypeError('StaticTokenCredential needs a non-empty token');
    this.#token = token;
    this.#lifetimeMs = options.lifetimeMs ?? 60 * 60 * 1000;
    this.#now = options.now ?? Date.now;
  }

  getToken(): Promise<AccessToken> {
    return Promise.resolve({
      token: this.#token,
      expiresOnTimestamp: this.#now() + this.#lifetimeMs,
      tokenType: 'Bearer',
    });
  }

  toJSON(): { kind: string } {
    return { kind: 'StaticTokenCredential' };
  }

  toString(): string {
    return 'StaticTokenCredential(<redacted>)';
  }

  [inspect.custom](): string {
    return this.toString();
  }
}
