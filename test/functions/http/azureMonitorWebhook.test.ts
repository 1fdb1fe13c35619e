import { readFileSync } from 'node:fs';
import path from 'node:path';
import { paths } from '../../../shared/contracts/routes';
import { request } from '../../helpers/durableHttp';
import { startControlPlane, type ControlPlane } from '../../helpers/controlPlane';

/** Real-format payloads (test/fixtures/alerts/README.md says where each comes from). */
const fixture = (name: string): unknown =>
  JSON.parse(readFileSync(path.resolve(__dirname, '../../fixtures/alerts', `${name}.json`), 'utf8'));
const vm = (name: string) =>
  `/subscriptions/11111111-1111-1111-1111-111111111111/resourceGroups/hpc-rg/providers/Microsoft.Compute/virtualMachines/${name}`;

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
  const declared = await request(`${cp.host.url}${paths.cluster('mon')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: {
      id: 'mon',
      kind: 'active-passive',
      nodes: [
        {
          id: 'head-a',
          role: 'active',
          site: { cloud: 'azure', region: 'westeurope' },
          compute: { kind: 'azure-vm', resourceId: vm('head-a') },
        },
        {
          id: 'head-b',
          role: 'standby',
          site: { cloud: 'azure', region: 'northeurope' },
          compute: { kind: 'azure-vm', resourceId: vm('head-b') },
        },
      ],
    },
  });
  expect(declared.status).toBe(201);
});
afterAll(async () => {
  await cp.stop();
});

const post = (body: unknown, key: string | null = cp.functionKey, raw = false) =>
  request(`${cp.host.url}${paths.webhookAzureMonitor()}`, {
    method: 'POST',
    body,
    raw,
    ...(key ? { key } : {}),
  });
const failovers = async () =>
  (
    (await request(`${cp.host.url}${paths.operations('mon')}`, { key: cp.functionKey })).json
      .operations as any[]
  ).filter((o) => o.kind === 'failover');

it('starts nothing for bad input, a resolved alert, an unrelated resource, or a caller without a key', async () => {
  expect((await post('{"schemaId": ', cp.functionKey, true)).status).toBe(400);
  expect((await post({ hello: 'world' })).status).toBeGreaterThanOrEqual(400);
  expect(await post(fixture('legacy-activity-log'))).toMatchObject({
    status: 422,
    json: { error: { code: 'UnsupportedAlertSchema' } },
  });
  expect((await post('x'.repeat(300 * 1024), cp.functionKey, true)).status).toBe(413);
  expect((await post(fixture('metric-vm-fired'), null)).status).toBe(401);
  const resolved = await post(fixture('metric-vm-resolved'));
  expect(resolved).toMatchObject({ status: 200, json: { alert: { condition: 'Resolved' }, operations: [] } });
  const unrelated = await post(fixture('metric-unrelated-storage'));
  expect(unrelated).toMatchObject({ status: 200, json: { matches: [], operations: [] } });
  expect(await failovers()).toEqual([]);
  // The resolved alert about the active's VM is in the cluster's audit log.
  const audit = (await request(`${cp.host.url}${paths.audit('mon')}`, { key: cp.functionKey })).json.entries;
  expect(audit).toEqual(
    expect.arrayContaining([expect.objectContaining({ action: 'alert-received', actor: 'azure-monitor' })]),
  );
});

it('starts one failover for five copies of a fired alert on the active VM', async () => {
  const answers = await Promise.all(Array.from({ length: 5 }, () => post(fixture('metric-vm-fired'))));
  for (const answer of answers) expect(answer.status).toBe(202);
  const ids = new Set(answers.map((a) => a.json.operations[0].operationId as string));
  expect(ids.size).toBe(1);
  // Exactly one of the concurrent deliveries started it; the others joined.
  expect(answers.filter((a) => a.json.operations[0].started)).toHaveLength(1);
  // The operation records itself in its first activity, just after the answer.
  let started: any[] = [];
  for (const deadline = Date.now() + 15_000; started.length === 0 && Date.now() < deadline;) {
    started = await failovers();
    if (started.length === 0) await new Promise((r) => setTimeout(r, 50));
  }
  expect(started).toHaveLength(1);
  expect(started[0]).toMatchObject({
    operationId: [...ids][0],
    trigger: { kind: 'webhook' },
    actor: 'azure-monitor',
  });
  // A sixth delivery later (an action group retry) joins it or, once it ended, starts nothing new: by then the alerted
  // VM may no longer host the active (200, no operation), or the same operation answers.
  const sixth = await post(fixture('metric-vm-fired'));
  expect(
    sixth.status === 202
      ? sixth.json.operations.map((o: { operationId: string }) => o.operationId)
      : { status: sixth.status, operations: sixth.json.operations },
  ).toEqual(sixth.status === 202 ? [[...ids][0]] : { status: 200, operations: [] });
  expect(await failovers()).toHaveLength(1);
});
