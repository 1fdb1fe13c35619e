import { createHash, createPrivateKey, createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { Region, SimpleAuthenticationDetailsProvider } from 'oci-common';

/** An OCI API signing key of a user (the `[DEFAULT]` profile of ~/.oci/config, as fields). */
export interface OciApiKeyConfig {
  tenancy: string;
  user: string;
  /** The key's fingerprint as the console shows it (aa:bb:...); see `ociKeyFingerprint`. */
  fingerprint: string;
  region: string;
  /** The private key as PEM, or ... */
  privateKey?: string;
  /** ... the path of the PEM file. */
  privateKeyPath?: string;
  passphrase?: string;
}

/**
 * The fingerprint OCI computes for an API public key: MD5 of the DER (SubjectPublicKeyInfo) encoding, as
 * colon-separated hex. Accepts a public or a private key (PEM or KeyObject).
 */
export function ociKeyFingerprint(key: string | KeyObject): string {
  const publicKey = typeof key !== 'string' && key.type === 'public' ? key : createPublicKey(key);
  const der = publicKey.export({ type: 'spki', format: 'der' });
  return (createHash('md5').update(der).digest('hex').match(/../g) ?? []).join(':');
}

/**
 * Builds the signer credentials for production from an API key: `SimpleAuthenticationDetailsProvider` with the
 * PEM (given, or read from `privateKeyPath`). The key is parsed once here so a wrong file or passphrase fails at
 * start-up with a message that names the problem, never the key.
 */
export function createOciAuthProvider(config: OciApiKeyConfig): SimpleAuthenticationDetailsProvider {
  for (const field of ['tenancy', 'user', 'fingerprint', 'region'] as const) {
    if (!config[field]) throw new Error(`OCI API key configuration: ${field} is required`);
  }
  let pem = config.privateKey;
  if (pem === undefined) {
    if (!config.privateKeyPath)
      throw new Error('OCI API key configuration: privateKey (PEM) or privateKeyPath is required');
    try {
      pem = readFileSync(config.privateKeyPath, 'utf8');
    } catch (error) {
      throw new Error(
        `OCI API key configuration: cannot read the private key file ${config.privateKeyPath} (${
          (error as NodeJS.ErrnoException).code ?? 'unreadable'
        })`,
      );
    }
  }
  try {
    createPrivateKey({ key: pem, ...(config.passphrase ? { passphrase: config.passphrase } : {}) });
  } catch {
    throw new Error(
      `OCI API key configuration: the private key for ${config.fingerprint} is not a readable PEM key` +
        (config.passphrase ? ' (or the passphrase is wrong)' : ' (an encrypted key needs its passphrase)'),
    );
  }
  return new SimpleAuthenticationDetailsProvider(
    config.tenancy,
    config.user,
    config.fingerprint,
    pem,
    config.passphrase ?? null,
    Region.fromRegionId(config.region),
  );
}
