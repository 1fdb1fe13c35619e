import { existsSync } from 'node:fs';
import path from 'node:path';
import { connectionStringFor } from '../../../devhost/storage/startAzurite';
import { startDevhost, type Devhost } from '../../../devhost';
import { realProcess } from '../../../devhost/realRequire';

const root = path.resolve(__dirname, '../../..');

beforeAll(() => {
  // The app reads its settings from the real process environment (see test/helpers/controlPlane.ts).
  realProcess.env.NODE_KEY_MASTER ??= Buffer.alloc(32, 7).toString('base64');
  if (!existsSync(path.join(root, 'dist/functions/http/health.js')))
    throw new Error('build first: npm run build');
});

describe('GET /api/health', () => {
  let host: Devhost;
  afterEach(async () => {
    await host?.stop();
  });

  it('reports the version and that storage answers', async () => {
    host = await startDevhost({ appDir: root, port: 0, storage: 'memory', log: () => undefined });
    const response = await fetch(`${host.url}/api/health`);
    expect(response.status).toBe(200);
    const body = await response.json();
    expect(body).toMatchObject({ status: 'ok', version: '0.1.0', storage: { reachable: true } });
  });

  it('answers 503 without leaking the connection string when storage does not answer', async () => {
    // The HTTP function itself, in a process whose storage is port 1 on loopback: nothing listens, refused at once.
    const dead = connectionStringFor('127.0.0.1', { blob: 1, queue: 1, table: 1 });
    const saved = { storage: process.env.AzureWebJobsStorage, master: process.env.NODE_KEY_MASTER };
    process.env.AzureWebJobsStorage = dead;
    process.env.NODE_KEY_MASTER = Buffer.alloc(32, 7).toString('base64');
    try {
      // Imported outside a host, @azure/functions warns that it skips the registration: expected here.
      const warn = jest.spyOn(console, 'warn').mockImplementation(() => undefined);
      const { health } = await import('../../../functions/http/health');
      warn.mockRestore();
      const response = await health();
      expect(response).toMatchObject({
        status: 503,
        jsonBody: { status: 'unavailable', storage: { reachable: false } },
        headers: { 'cache-control': 'no-store' },
      });
      expect(JSON.stringify(response)).not.toContain('AccountKey');
      expect(JSON.stringify(response)).not.toContain('Eby8vdM02');
    } finally {
      if (saved.storage === undefined) delete process.env.AzureWebJobsStorage;
      else process.env.AzureWebJobsStorage = saved.storage;
      if (saved.master === undefined) delete process.env.NODE_KEY_MASTER;
      else process.env.NODE_KEY_MASTER = saved.master;
    }
  });
});
