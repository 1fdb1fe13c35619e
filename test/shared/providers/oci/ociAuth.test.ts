import { createHash, createPrivateKey, createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { registerOciApiKey } from '../../../../devhost/cloudSimulator/ociRoutes';
import { createOciAuthProvider, ociKeyFingerprint } from '../../../../shared/providers/oci/ociAuth';
import { OciComputeProvider } from '../../../../shared/providers/oci/ociComputeProvider';
import {
  COMPARTMENT,
  generateApiKey,
  instance,
  REGION,
  startOciFixture,
  TENANCY,
  USER,
  type ApiKey,
  type OciFixture,
} from './ociFixture';

let key: ApiKey;
let dir: string;

beforeAll(() => {
  key = generateApiKey();
  dir = mkdtempSync(join(tmpdir(), 'oci-auth-'));
});
afterAll(() => {
  rmSync(dir, { recursive: true, force: true });
});

const config = { tenancy: TENANCY, user: USER, region: REGION };

describe('OCI API key fingerprints', () => {
  it('is the colon-separated MD5 of the DER public key, from the public or the private key', () => {
    const der = createPublicKey(key.publicKey).export({ type: 'spki', format: 'der' });
    const hex = createHash('md5').update(der).digest('hex');

    expect(key.fingerprint).toMatch(/^([0-9a-f]{2}:){15}[0-9a-f]{2}$/);
    expect(key.fingerprint.replace(/:/g, '')).toBe(hex);
    expect(ociKeyFingerprint(key.privateKey)).toBe(key.fingerprint);
  });
});

describe('createOciAuthProvider', () => {
  it('builds signer credentials from a PEM or a key file, with the keyId OCI expects', async () => {
    const path = join(dir, 'api_key.pem');
    writeFileSync(path, key.privateKey, { mode: 0o600 });

    const fromPem = createOciAuthProvider({
      ...config,
      fingerprint: key.fingerprint,
      privateKey: key.privateKey,
    });
    const fromFile = createOciAuthProvider({ ...config, fingerprint: key.fingerprint, privateKeyPath: path });

    await expect(fromPem.getKeyId()).resolves.toBe(`${TENANCY}/${USER}/${key.fingerprint}`);
    expect(fromFile.getPrivateKey()).toBe(key.privateKey);
    expect(fromPem.getRegion().regionId).toBe(REGION);
  });

  it('names what is wrong without ever showing the key', () => {
    const fingerprint = key.fingerprint;
    expect(() => createOciAuthProvider({ ...config, fingerprint })).toThrow(
      /privateKey \(PEM\) or privateKeyPath/,
    );
    expect(() =>
      createOciAuthProvider({ ...config, fingerprint, privateKeyPath: join(dir, 'missing.pem') }),
    ).toThrow(/cannot read the private key file .*missing\.pem \(ENOENT\)/);
    expect(() => createOciAuthProvider({ ...config, fingerprint: '', privateKey: key.privateKey })).toThrow(
      /fingerprint is required/,
    );
    const garbled = key.privateKey.replace(/[A-Za-z]{8}/, 'AAAAAAAA').slice(0, 300);
    let message = '';
    try {
      createOciAuthProvider({ ...config, fingerprint, privateKey: garbled });
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message).toContain('is not a readable PEM key');
    expect(message).not.toContain('PRIVATE KEY');
    expect(message).not.toContain(garbled.slice(40, 80));
  });

  it('takes an encrypted key with its passphrase, and refuses it without', () => {
    const { privateKey } = generateKeyPairSync('rsa', {
      modulusLength: 2048,
      privateKeyEncoding: {
        type: 'pkcs1',
        format: 'pem',
        cipher: 'aes-256-cbc',
        passphrase: 'correct horse',
      },
      publicKeyEncoding: { type: 'spki', format: 'pem' },
    });
    const fingerprint = ociKeyFingerprint(createPrivateKey({ key: privateKey, passphrase: 'correct horse' }));

    expect(() => createOciAuthProvider({ ...config, fingerprint, privateKey })).toThrow(
      /needs its passphrase/,
    );
    expect(() => createOciAuthProvider({ ...config, fingerprint, privateKey, passphrase: 'wrong' })).toThrow(
      /passphrase is wrong/,
    );
    expect(
      createOciAuthProvider({
        ...config,
        fingerprint,
        privateKey,
        passphrase: 'correct horse',
      }).getPassphrase(),
    ).toBe('correct horse');
  });
});

describe('a provider signing with createOciAuthProvider credentials', () => {
  let oci: OciFixture;
  beforeAll(async () => {
    oci = await startOciFixture();
  });
  afterAll(async () => {
    await oci.stop();
  });

  it('is accepted by the simulator once its public key is registered', async () => {
    oci.addVm('ocid1.instance.oc1.eu-frankfurt-1.auth1', 'running');
    registerOciApiKey(oci.model, {
      tenancy: TENANCY,
      user: USER,
      fingerprint: key.fingerprint,
      publicKey: key.publicKey,
    });
    const provider = new OciComputeProvider({
      authProvider: createOciAuthProvider({
        ...config,
        fingerprint: key.fingerprint,
        privateKey: key.privateKey,
      }),
      region: REGION,
      compartmentId: COMPARTMENT,
      endpoints: { compute: `${oci.sim.url}/oci/${REGION}` },
    });

    await expect(provider.getPowerState(instance('ocid1.instance.oc1.eu-frankfurt-1.auth1'))).resolves.toBe(
      'running',
    );
  });
});
