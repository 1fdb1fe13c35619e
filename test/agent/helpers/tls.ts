import { execFileSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';

export interface TestCertificates {
  caFile: string;
  ca: Buffer;
  /** Server certificate (for 127.0.0.1 and localhost) signed by the CA. */
  key: Buffer;
  cert: Buffer;
  /** SHA-256 of the server certificate's DER, lowercase hex. */
  fingerprint: string;
  /** A self-signed certificate from nobody's CA, also for 127.0.0.1. */
  otherKey: Buffer;
  otherCert: Buffer;
  otherFingerprint: string;
}

function openssl(args: string[], cwd: string): void {
  try {
    execFileSync('openssl', args, { cwd, stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (error) {
    const e = error as NodeJS.ErrnoException & { stderr?: Buffer };
    if (e.code === 'ENOENT')
      throw new Error('these tests need the openssl command (apt-get install -y openssl)');
    throw new Error(`openssl ${args[0] ?? ''} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

const fingerprintOf = (pem: Buffer) =>
  new X509Certificate(pem).fingerprint256.replace(/:/g, '').toLowerCase();

/** A throw-away CA and server certificates (EC P-256, one day) made with openssl in `dir`. */
export function makeCertificates(dir: string): TestCertificates {
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes'];
  const san = path.join(dir, 'san.cnf');
  writeFileSync(san, 'subjectAltName=IP:127.0.0.1,DNS:localhost\n');
  openssl(
    ['req', '-x509', ...ec, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', '1', '-subj', '/CN=fp-test-ca'],
    dir,
  );
  openssl(['req', ...ec, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost'], dir);
  openssl(
    [
      'x509',
      '-req',
      '-in',
      'server.csr',
      '-CA',
      'ca.pem',
      '-CAkey',
      'ca.key',
      '-CAcreateserial',
      '-out',
      'server.pem',
    ].concat(['-days', '1', '-extfile', san]),
    dir,
  );
  openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'other.key',
      '-out',
      'other.pem',
      '-days',
      '1',
      '-subj',
      '/CN=impostor',
    ].concat(['-addext', 'subjectAltName=IP:127.0.0.1,DNS:localhost']),
    dir,
  );
  const read = (file: string) => readFileSync(path.join(dir, file));
  return {
    caFile: path.join(dir, 'ca.pem'),
    ca: read('ca.pem'),
    key: read('server.key'),
    cert: read('server.pem'),
    fingerprint: fingerprintOf(read('server.pem')),
    otherKey: read('other.key'),
    otherCert: read('other.pem'),
    otherFingerprint: fingerprintOf(read('other.pem')),
  };
}
