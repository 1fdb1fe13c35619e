import { mkdtempSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { startDevhost, type Devhost } from '../../../devhost';
import { request, waitForInstance } from '../../helpers/durableHttp';

const appDir = path.resolve(__dirname, '../../fixtures/apps/durable');
let host: Devhost;
let key: string;
const logs: string[] = [];

beforeAll(async () => {
  host = await startDevhost({
    appDir,
    port: 0,
    storage: 'memory',
    log: (level, message, fields) => logs.push(`${level} ${message} ${JSON.stringify(fields ?? {})}`),
  });
  key = host.keys.functionKeys.default as string;
});
afterAll(async () => {
  await host.stop();
});

async function start(name: string, input?: unknown, instanceId?: string) {
  const r = await request(`${host.url}/api/orchestrators/${name}${instanceId ? `/${instanceId}` : ''}`, {
    method: 'POST',
    key,
    ...(input !== undefined ? { body: input } : {}),
  });
  expect(r.status).toBe(202);
  return r.json as {
    id: string;
    statusQueryGetUri: string;
    sendEventPostUri: string;
    terminatePostUri: string;
    purgeHistoryDeleteUri: string;
  };
}

describe('durable orchestrations through the devhost', () => {
  it('chains five activities in order and reports custom status', async () => {
    const links = await start('Chain', 'order');
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toEqual([
      'done:order-1',
      'done:order-2',
      'done:order-3',
      'done:order-4',
      'done:order-5',
    ]);
    expect(status.customStatus).toEqual({ step: 5 });
    expect(status.input).toBe('order');
  });

  it('fans out to 50 activities and fans in their results', async () => {
    const links = await start('FanOut', 50);
    const status = await waitForInstance(links.statusQueryGetUri, 60_000);
    expect(status.runtimeStatus).toBe('Completed');
    expect(status.output).toBe((50 * 51 * 101) / 6);
  });

  it('completes the human-interaction pattern when the event arrives before the timer', async () => {
    const links = await start('Approval');
    await waitForInstance(links.statusQueryGetUri, 10_000, (s) => s.runtimeStatus === 'Running');
    const raise = await request(links.sendEventPostUri.replace('{eventName}', 'Approval'), {
      method: 'POST',
      body: 'yes',
    });
    expect(raise.status).toBe(202);
    const status = await waitForInstance(links.statusQueryGetUri);
    // Completed (not left Running until the 1 h timer fires) because the losing timer was cancelled.
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'approved:yes' });
  });

  it('buffers an event raised before the orchestration waits for it', async () => {
    const links = await start('Waiter');
    const raise = await request(`${host.url}/api/client/raise/${links.id}/Go`, {
      method: 'POST',
      key,
      body: 42,
    });
    expect(raise.status).toBe(202);
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'went:42' });
  });

  it('retries a failing activity until it succeeds', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retry-'));
    const links = await start('Retry', { dir, key: 'ok', failTimes: 2, maxAttempts: 3 });
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'succeeded on attempt 3' });
  });

  it('fails the orchestration once retries are exhausted', async () => {
    const dir = mkdtempSync(path.join(os.tmpdir(), 'retry-'));
    const links = await start('Retry', { dir, key: 'never', failTimes: 10, maxAttempts: 3 });
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toContain("Activity function 'Flaky' failed: flaky failure 3");
  });

  it('returns a sub-orchestration result to its parent', async () => {
    const links = await start('Parent', { fail: false });
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'parent got done:child' });
  });

  it('propagates a sub-orchestration failure to the parent', async () => {
    const links = await start('Parent', { fail: true });
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toContain("Orchestrator function 'Child' failed: child refused");
  });

  it('continues as new until the counter reaches its target, keeping one instance', async () => {
    const links = await start('Counter', { count: 0, target: 4 }, 'counter-1');
    const status = await waitForInstance(links.statusQueryGetUri, 30_000);
    expect(status).toMatchObject({ instanceId: 'counter-1', runtimeStatus: 'Completed', output: 4 });
    expect(status.input).toEqual({ count: 4, target: 4 });
  });

  it('terminates a running instance and ignores it afterwards', async () => {
    const links = await start('Waiter');
    await waitForInstance(links.statusQueryGetUri, 10_000, (s) => s.runtimeStatus === 'Running');
    const terminate = await request(links.terminatePostUri.replace('{text}', 'enough'), { method: 'POST' });
    expect(terminate.status).toBe(202);
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status).toMatchObject({ runtimeStatus: 'Terminated', output: 'enough' });
    const again = await request(
      `${host.url}/runtime/webhooks/durabletask/instances/${links.id}/raiseEvent/Go?code=${host.keys.systemKeys.durabletask_extension}`,
      { method: 'POST', body: 1 },
    );
    expect(again.status).toBe(410);
  });

  it('holds events while suspended and delivers them on resume', async () => {
    const links = await start('Waiter');
    await waitForInstance(links.statusQueryGetUri, 10_000, (s) => s.runtimeStatus === 'Running');
    const api = `${host.rpcBaseUrl}instances/${links.id}`;
    expect((await request(`${api}/suspend?reason=maintenance`, { method: 'POST' })).status).toBe(202);
    await waitForInstance(links.statusQueryGetUri, 10_000, (s) => s.runtimeStatus === 'Suspended');
    await request(`${api}/raiseEvent/Go`, { method: 'POST', body: 'later' });
    // The event is held: the instance stays Suspended rather than completing.
    const held = await request(links.statusQueryGetUri);
    expect(held.json.runtimeStatus).toBe('Suspended');
    expect((await request(`${api}/resume?reason=done`, { method: 'POST' })).status).toBe(202);
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status).toMatchObject({ runtimeStatus: 'Completed', output: 'went:later' });
    // Deterministic proof that it was held: the history records the event only after the resume.
    const history = (await request(`${api}?showHistory=true`)).json.historyEvents.map(
      (e: any) => e.EventType,
    );
    const at = (type: string) => history.indexOf(type);
    expect(at('ExecutionSuspended')).toBeGreaterThan(-1);
    expect(at('ExecutionResumed')).toBeGreaterThan(at('ExecutionSuspended'));
    expect(at('EventRaised')).toBeGreaterThan(at('ExecutionResumed'));
  });

  it('fails an orchestration that calls an activity that does not exist', async () => {
    const links = await start('CallsMissing');
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toContain("The function 'NoSuchActivity' doesn't exist");
  });

  it('detects a non-deterministic orchestrator on replay with the DTFx message', async () => {
    const flag = path.join(mkdtempSync(path.join(os.tmpdir(), 'fickle-')), 'activity');
    writeFileSync(flag, 'Step');
    const links = await start('Fickle', flag);
    await waitForInstance(links.statusQueryGetUri, 10_000, (s) => s.runtimeStatus === 'Running');
    writeFileSync(flag, 'Other');
    await request(links.sendEventPostUri.replace('{eventName}', 'Next'), { method: 'POST', body: null });
    const status = await waitForInstance(links.statusQueryGetUri);
    expect(status.runtimeStatus).toBe('Failed');
    expect(status.output).toContain('Non-Deterministic workflow detected');
    expect(status.output).toContain("sequence ID 0 and name 'Step'");
  });

  it('serves the durable client status URLs, history, queries and purge', async () => {
    const links = await start('Chain', 'urls', 'urls-1');
    expect(links.statusQueryGetUri).toContain(`${host.url}/runtime/webhooks/durabletask/instances/urls-1`);
    await waitForInstance(links.statusQueryGetUri);
    const viaClient = await request(`${host.url}/api/client/status/urls-1?history=true`, { key });
    expect(viaClient.json.runtimeStatus).toBe('Completed');
    const types = (viaClient.json.history ?? viaClient.json.historyEvents).map((e: any) => e.EventType);
    expect(types.filter((t: string) => t === 'TaskCompleted')).toHaveLength(5);
    const by = await request(`${host.url}/api/client/by/x/Completed`, { key });
    expect(by.json.map((s: any) => s.instanceId)).toContain('urls-1');
    const noKey = await request(links.statusQueryGetUri.replace(/code=[^&]+/, 'code=wrong'));
    expect(noKey.status).toBe(401);
    const purge = await request(links.purgeHistoryDeleteUri, { method: 'DELETE' });
    expect(purge.json).toEqual({ instancesDeleted: 1 });
    expect((await request(links.statusQueryGetUri)).status).toBe(404);
  });

  it('waits for completion through waitForCompletionOrCreateCheckStatusResponse', async () => {
    const r = await request(`${host.url}/api/run/Chain`, { method: 'POST', key, body: 'wait' });
    expect(r.status).toBe(200);
    expect(r.json).toEqual(['done:wait-1', 'done:wait-2', 'done:wait-3', 'done:wait-4', 'done:wait-5']);
  });

  it('refuses an unknown orchestrator and an invalid instance id with 400', async () => {
    const api = `${host.rpcBaseUrl}orchestrators`;
    expect((await request(`${api}/NoSuchOrchestrator`, { method: 'POST', body: 1 })).status).toBe(400);
    expect((await request(`${api}/Chain/bad%23id`, { method: 'POST', body: 1 })).status).toBe(400);
  });
});
