import { readFileSync } from 'node:fs';
import path from 'node:path';
import { loadConfig } from '../../../shared/config/config';

/** Every key `loadConfig` reads, found by letting it read from an environment that records each lookup. */
function keysRead(env: Record<string, string>): Set<string> {
  const read = new Set<string>();
  const recording = new Proxy(env, {
    get(target, key) {
      if (typeof key === 'string') read.add(key);
      return target[key as string];
    },
  });
  try {
    loadConfig(recording);
  } catch {
    // An invalid combination still shows which keys were read.
  }
  return read;
}

it('documents every configuration key the control plane reads in the README table', () => {
  const base = {
    AzureWebJobsStorage: 'UseDevelopmentStorage=true',
    NODE_KEY_MASTER: Buffer.alloc(32, 1).toString('base64'),
  };
  // Environments that take every branch: the Azure credential kinds and the OCI settings.
  const read = new Set<string>();
  const environments: Record<string, string>[] = [
    base,
    { ...base, AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000' },
    { ...base, AZURE_SUBSCRIPTION_ID: '00000000-0000-0000-0000-000000000000', AZURE_CREDENTIAL: 'static' },
    { ...base, OCI_TENANCY_OCID: 'ocid1.tenancy.oc1..x' },
    // The identity form of the storage settings (AzureWebJobsStorage__…, WitnessStorage__…).
    {
      NODE_KEY_MASTER: base.NODE_KEY_MASTER,
      AzureWebJobsStorage__credential: 'managedidentity',
      WitnessStorage__credential: 'managedidentity',
    },
  ];
  for (const env of environments) {
    for (const key of keysRead(env)) read.add(key);
  }
  const readme = readFileSync(path.resolve(__dirname, '../../../README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Configuration keys'));
  const table = section.slice(0, section.indexOf('\n## '));
  const documented = new Set([...table.matchAll(/^\| `([A-Za-z_]+)`/gm)].map((m) => m[1]));
  // The test must see what it checks: more than the two required keys, including the cloud ones.
  expect(read.has('AZURE_STATIC_TOKEN')).toBe(true);
  expect(read.has('OCI_PRIVATE_KEY_FILE')).toBe(true);
  expect(read.has('AzureWebJobsStorage__tableServiceUri')).toBe(true);
  expect(read.has('WitnessStorage__blobServiceUri')).toBe(true);
  expect([...read].filter((key) => !documented.has(key))).toEqual([]);
});
