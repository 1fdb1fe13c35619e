import { AuthError } from './errors';

interface TokenCredentialLike {
  getToken(scope: string): Promise<{ token: string } | null>;
}

/**
 * A bearer token for `scope` from `@azure/identity`'s DefaultAzureCredential (Azure CLI login, managed identity,
 * environment, ...). The package is loaded only here, so the CLI runs without it unless `--entra` is used.
 */
export async function entraToken(scope: string): Promise<string> {
  let identity: { DefaultAzureCredential: new () => TokenCredentialLike };
  try {
    identity = await import('@azure/identity');
  } catch {
    throw new AuthError('--entra needs the @azure/identity package: npm install @azure/identity');
  }
  try {
    const token = await new identity.DefaultAzureCredential().getToken(scope);
    if (!token) throw new Error('no token');
    return token.token;
  } catch (error) {
    const message = error instanceof Error ? (error.message.split('\n')[0] ?? '') : '';
    throw new AuthError(`could not get an Entra token for ${scope}${message ? `: ${message}` : ''}`);
  }
}
