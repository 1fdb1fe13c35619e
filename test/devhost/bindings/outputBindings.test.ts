import path from 'node:path';
import { TableClient } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { resolveBindingExpression } from '../../../devhost/bindings/outputBindings';
import { realRequire } from '../../../devhost/realRequire';
import { startDevhost, type Devhost } from '../../../devhost/startDevhost';

const fixtures = path.join(__dirname, '..', '..', 'fixtures', 'apps');
const realEnv = (realRequire(__filename)('node:process') as NodeJS.Process).env;

describe('output bindings', () => {
  let devhost: Devhost;
  const envBefore = { ...realEnv };

  beforeAll(async () => {
    devhost = await startDevhost({
      appDir: path.join(fixtures, 'bindings-app'),
      port: 0,
      storage: 'memory',
      env: realEnv,
      log: () => undefined,
    });
  });
  afterAll(async () => {
    await devhost?.stop();
    for (const key of Object.keys(realEnv)) if (!(key in envBefore)) delete realEnv[key];
    Object.assign(realEnv, envBefore);
  });

  it('writes blob, queue and table outputs to the embedded Azurite', async () => {
    const res = await fetch(`${devhost.url}/api/save/42?kind=order`, {
      method: 'POST',
      body: JSON.stringify({ name: 'widget' }),
    });
    expect(res.status).toBe(201);

    const blob = BlobServiceClient.fromConnectionString(devhost.connectionString)
      .getContainerClient('saved')
      .getBlobClient('42-order.json');
    expect(JSON.parse((await blob.downloadToBuffer()).toString('utf8'))).toEqual({ name: 'widget' });

    const queue = QueueServiceClient.fromConnectionString(devhost.connectionString).getQueueClient(
      'saved-items',
    );
    const { receivedMessageItems } = await queue.receiveMessages({ numberOfMessages: 32 });
    expect(
      receivedMessageItems.map((m) => Buffer.from(m.messageText, 'base64').toString('utf8')).sort(),
    ).toEqual(['second message', JSON.stringify({ name: 'widget' })].sort());

    const table = TableClient.fromConnectionString(devhost.connectionString, 'SavedItems', {
      allowInsecureConnection: true,
    });
    expect(await table.getEntity('items', '42')).toMatchObject({
      partitionKey: 'items',
      rowKey: '42',
      name: 'widget',
    });
  });

  it('writes nothing for an output the handler did not set', async () => {
    const res = await fetch(`${devhost.url}/api/saveNothing`, { method: 'POST' });
    expect(res.status).toBe(204);
  });

  it('fails the invocation (500) when an output cannot be written, e.g. a duplicate table entity', async () => {
    const res = await fetch(`${devhost.url}/api/save/42?kind=again`, {
      method: 'POST',
      body: JSON.stringify({ name: 'widget' }),
    });
    expect(res.status).toBe(500);
  });

  it('resolves {rand-guid}, {DateTime} and binding data, and names an unknown expression', () => {
    const now = Date.UTC(2030, 0, 2, 3, 4, 5);
    expect(resolveBindingExpression('c/{ID}-{DateTime}', { id: '7' }, now, 'x')).toBe(
      'c/7-2030-01-02T03-04-05Z',
    );
    expect(resolveBindingExpression('c/{rand-guid}', {}, now, 'x')).toMatch(/^c\/[0-9a-f-]{36}$/);
    expect(() => resolveBindingExpression('c/{nope}', {}, now, 'function "f"')).toThrow(
      'function "f": no value for the binding expression {nope}',
    );
  });

  it('refuses to load an app whose output bindings it cannot honour, naming each function and binding', async () => {
    const start = startDevhost({
      appDir: path.join(fixtures, 'bindings-bad-app'),
      port: 0,
      storage: 'memory',
      env: realEnv,
      log: () => undefined,
    });
    await expect(start).rejects.toThrow(
      /function "toServiceBus": output binding "\w+" \(type "serviceBus"\) is not supported/,
    );
    await expect(start).rejects.toThrow(
      /function "nightly": output binding "\$return" \(type "queue"\): the connection setting "NoSuchSetting"/,
    );
  });
});
