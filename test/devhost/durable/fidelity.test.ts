import { cpSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseOverridableStates } from '../../../devhost/app/hostJson';
import type { RuntimeStatus } from '../../../devhost/durable/taskHubStore';
import { startDevhost, type Devhost } from '../../../devhost';
import { request, waitForInstance } from '../../helpers/durableHttp';

const fixture = path.resolve(__dirname, '../../fixtures/apps/durable');
const root = path.resolve(__dirname, '../../..');

async function startApp(appDir: string): Promise<Devhost> {
  return startDevhost({ appDir, port: 0, storage: 'memory', log: () => undefined });
}

describe('durable fidelity with the extension', () => {
  let host: Devhost;
  let key: string;
  const api = (p: string) =>
    `${host.url}/runtime/webhooks/durabletask/${p}?code=${encodeURIComponent(host.keys.masterKey)}`;

  beforeAll(async () => {
    host = await startApp(fixture);
    key = host.keys.functionKeys.default as string;
  });
  afterAll(async () => {
    await host?.stop();
  });

  describe('overridableExistingInstanceStates', () => {
    it('parses host.json like the extension (default NonRunningStates, case-insensitive, anything else refused)', () => {
      expect(parseOverridableStates(undefined)).toBe('NonRunningStates');
      expect(parseOverridableStates('anystate')).toBe('AnyState');
      expect(parseOverridableStates('NonRunningStates')).toBe('NonRunningStates');
      expect(() => parseOverridableStates('Sometimes')).toThrow(/must be "AnyState" or "NonRunningStates"/);
    });

    it('by default refuses to start an instance id that is still running (409; the client rejects), and allows it once done', async () => {
      const first = await request(api('orchestrators/Waiter/dup-1'), { method: 'POST', body: null });
      expect(first.status).toBe(202);
      const statusUrl = (first.json as { statusQueryGetUri: string }).statusQueryGetUri;
      await waitForInstance(
        statusUrl,
        10_000,
        (s: { runtimeStatus: string }) => s.runtimeStatus === 'Running',
      );

      const again = await request(api('orchestrators/Waiter/dup-1'), { method: 'POST', body: null });
      expect(again.status).toBe(409);
      expect(again.text).toContain('already exists');
      // Through the app's own durable client (startNew over the RPC endpoint): the promise rejects, the function fails.
      const viaClient = await request(`${host.url}/api/orchestrators/Waiter/dup-1`, { method: 'POST', key });
      expect(viaClient.status).toBe(500);

      const raised = await request(api('instances/dup-1/raiseEvent/Go'), { method: 'POST', body: 'once' });
      expect(raised.status).toBe(202);
      const done = await waitForInstance(statusUrl);
      expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 'went:once' });

      const restarted = await request(api('orchestrators/Waiter/dup-1'), { method: 'POST', body: null });
      expect(restarted.status).toBe(202);
      expect((await host.engine!.getStatus('dup-1'))?.runtimeStatus).not.toBe('Completed');
    });

    it('replaces a running instance when host.json says AnyState', async () => {
      const appDir = path.join(root, '.devhost-test', `anystate-${process.pid}`);
      rmSync(appDir, { recursive: true, force: true });
      mkdirSync(appDir, { recursive: true });
      cpSync(fixture, appDir, { recursive: true });
      writeFileSync(
        path.join(appDir, 'host.json'),
        JSON.stringify({
          version: '2.0',
          extensions: {
            durableTask: { hubName: 'AnyStateHub', overridableExistingInstanceStates: 'AnyState' },
          },
        }),
      );
      const other = await startApp(appDir);
      try {
        const url = (p: string) =>
          `${other.url}/runtime/webhooks/durabletask/${p}?code=${encodeURIComponent(other.keys.masterKey)}`;
        expect(
          (await request(url('orchestrators/Waiter/dup-2'), { method: 'POST', body: null })).status,
        ).toBe(202);
        expect(
          (await request(url('orchestrators/Waiter/dup-2'), { method: 'POST', body: null })).status,
        ).toBe(202);
      } finally {
        await other.stop();
        rmSync(appDir, { recursive: true, force: true });
      }
    });
  });

  it('runs the next generation of a continue-as-new in the same work item: ContinuedAsNew is never observable', async () => {
    const engine = host.engine!;
    const seen = new Set<RuntimeStatus>();
    const start = await request(api('orchestrators/Counter/counter-fidelity'), {
      method: 'POST',
      body: { count: 0, target: 8 },
    });
    expect(start.status).toBe(202);
    const deadline = Date.now() + 30_000;
    for (;;) {
      const status = await engine.getStatus('counter-fidelity');
      if (status) seen.add(status.runtimeStatus);
      if (status?.runtimeStatus === 'Completed') {
        expect(status.output).toBe(8);
        break;
      }
      if (Date.now() > deadline) throw new Error(`Counter did not complete; saw ${[...seen].join(',')}`);
    }
    expect(seen.has('ContinuedAsNew')).toBe(false);
    // Only the last generation's history is kept.
    const history = await engine.getStatus('counter-fidelity', { showHistory: true });
    const started = (history?.historyEvents as { EventType: string }[]).filter(
      (e) => e.EventType === 'ExecutionStarted',
    );
    expect(started).toHaveLength(1);
  });

  it("names auto-id children after the parent's execution: each generation of a continued parent gets new children", async () => {
    const engine = host.engine!;
    const start = await request(api('orchestrators/ParentLoop/parent-loop'), {
      method: 'POST',
      body: { gen: 1, last: 3 },
    });
    expect(start.status).toBe(202);
    const done = await waitForInstance(
      (start.json as { statusQueryGetUri: string }).statusQueryGetUri,
      30_000,
    );
    expect(done).toMatchObject({ runtimeStatus: 'Completed', output: 3 });
    const page = await engine.store.queryInstances({});
    const children = page.instances.filter((i) => i.parentInstanceId === 'parent-loop');
    expect(children).toHaveLength(3);
    expect(new Set(children.map((c) => c.instanceId)).size).toBe(3);
    for (const child of children) {
      expect(child.instanceId).toMatch(/^[0-9a-f-]{36}:0$/);
      expect(child.runtimeStatus).toBe('Completed');
    }
  });
});
