import { cpSync, existsSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { startDevhost } from '../../../devhost/startDevhost';
import { request, waitForInstance } from '../../helpers/durableHttp';

const root = path.resolve(__dirname, '../../..');
const fixture = path.join(root, 'test', 'fixtures', 'apps', 'durable');

/** The durable fixture app in a temp directory, with `durableTask` replaced (node_modules linked from the repo). */
function appWith(dir: string, durableTask: Record<string, unknown>): string {
  const appDir = path.join(dir, 'app');
  cpSync(fixture, appDir, { recursive: true });
  symlinkSync(path.join(root, 'node_modules'), path.join(appDir, 'node_modules'), 'dir');
  writeFileSync(
    path.join(appDir, 'host.json'),
    JSON.stringify({ version: '2.0', extensions: { http: { routePrefix: 'api' }, durableTask } }),
  );
  return appDir;
}

/** This repository's host.json turned into its Azure form (the Durable Task Scheduler), as the deployment uses it. */
function azureForm(): Record<string, unknown> {
  const hostJson = JSON.parse(readFileSync(path.join(root, 'host.json'), 'utf8')) as {
    extensions: { durableTask: Record<string, unknown> };
  };
  return {
    ...hostJson.extensions.durableTask,
    hubName: '%TASKHUB_NAME%',
    storageProvider: {
      type: 'azureManaged',
      connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING',
    },
  };
}

describe('the devhost and host.json durableTask.storageProvider', () => {
  let dir: string;
  beforeEach(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'devhost-provider-'));
  });
  afterEach(() => {
    rmSync(dir, { recursive: true, force: true });
  });

  it('refuses the Azure form (azureManaged: the Durable Task Scheduler) before starting anything, naming the setting', async () => {
    const appDir = appWith(dir, azureForm());
    const dataDir = path.join(dir, 'data');
    const attempt = startDevhost({
      appDir,
      dataDir,
      port: 0,
      storage: 'disk',
      env: {
        TASKHUB_NAME: 'AzureHub',
        DURABLE_TASK_SCHEDULER_CONNECTION_STRING:
          'Endpoint=https://x.durabletask.io;Authentication=ManagedIdentity;ClientID=00000000-0000-0000-0000-000000000001',
      },
      log: () => undefined,
    });
    await expect(attempt).rejects.toThrow(
      'host.json extensions.durableTask.storageProvider.type "azureManaged" cannot be honoured by the devhost',
    );
    const message = await attempt.catch((error: Error) => error.message);
    expect(message).toContain('Durable Task Scheduler (or its emulator)');
    expect(message).toContain('omit "type" or use "AzureStorage"');
    // Nothing was started: no Azurite data, no lock.
    expect(existsSync(path.join(dataDir, 'azurite'))).toBe(false);
    expect(existsSync(dataDir)).toBe(false);
  });

  it('refuses any other provider it cannot run, and a type that is not a string', async () => {
    await expect(
      startDevhost({
        appDir: appWith(dir, { hubName: 'Other', storageProvider: { type: 'mssql' } }),
        port: 0,
        storage: 'memory',
        env: {},
        log: () => undefined,
      }),
    ).rejects.toThrow(
      'host.json extensions.durableTask.storageProvider.type "mssql" is not supported by the devhost; the local form is the Azure Storage provider: omit "type" or use "AzureStorage"',
    );
    rmSync(path.join(dir, 'app'), { recursive: true, force: true });
    await expect(
      startDevhost({
        appDir: appWith(dir, { hubName: 'Other', storageProvider: { type: 7 } }),
        port: 0,
        storage: 'memory',
        env: {},
        log: () => undefined,
      }),
    ).rejects.toThrow('host.json extensions.durableTask.storageProvider.type must be a string');
  });

  it('names the app setting a %NAME% hub name refers to when it is not set', async () => {
    await expect(
      startDevhost({
        appDir: appWith(dir, { hubName: '%TASKHUB_NAME%' }),
        port: 0,
        storage: 'memory',
        env: {},
        log: () => undefined,
      }),
    ).rejects.toThrow(
      'host.json extensions.durableTask.hubName refers to the app setting %TASKHUB_NAME%, which is not set',
    );
  });

  it('runs the local form (AzureStorage), with %TASKHUB_NAME% resolved from the app settings like the host', async () => {
    const local = { ...azureForm(), storageProvider: { type: 'AzureStorage' } };
    const host = await startDevhost({
      appDir: appWith(dir, local),
      port: 0,
      storage: 'memory',
      env: { TASKHUB_NAME: 'LocalHub' },
      log: () => undefined,
    });
    try {
      expect(host.hubName).toBe('LocalHub');
      const started = await request(`${host.url}/api/orchestrators/Chain`, {
        method: 'POST',
        key: host.keys.functionKeys.default as string,
        body: 'x',
      });
      expect(started.status).toBe(202);
      const status = await waitForInstance(started.json.statusQueryGetUri as string);
      expect(status.runtimeStatus).toBe('Completed');
    } finally {
      await host.stop();
    }
  });
});
