import type * as df from 'durable-functions';
import {
  startClusterOperation,
  type ClusterOperationRequest,
} from '../../../functions/durable/startClusterOperation';
import { isId } from '../../../shared/contracts/ids';
import type { Services } from '../../../shared/services/services';

/** A fake of the two durable client calls start-or-join makes (as in singleton.test.ts), and of the cluster read. */
type Row = { runtimeStatus: string; createdTime: Date; input?: unknown };

function fakes(now: number, options: { loseRace?: boolean } = {}) {
  const instances = new Map<string, Row>();
  const starts: { name: string; instanceId: string; input: unknown }[] = [];
  const client = {
    getStatus(instanceId: string) {
      const row = instances.get(instanceId);
      if (!row)
        return Promise.reject(
          new Error(`DurableClient error: Durable Functions extension replied with HTTP 404 response.`),
        );
      return Promise.resolve(row);
    },
    startNew(name: string, init: { instanceId: string; input: unknown }) {
      if (options.loseRace) {
        instances.set(init.instanceId, {
          runtimeStatus: 'Running',
          createdTime: new Date(now + 1),
          input: { operationId: 'failover-winner' },
        });
        return Promise.reject(
          new Error('DurableClient error: Durable Functions extension replied with HTTP 409'),
        );
      }
      starts.push({ name, instanceId: init.instanceId, input: init.input });
      instances.set(init.instanceId, {
        runtimeStatus: 'Pending',
        createdTime: new Date(now),
        input: init.input,
      });
      return Promise.resolve(init.instanceId);
    },
  };
  const services = {
    now: () => now,
    clusters: {
      getDocument: (clusterId: string) =>
        Promise.resolve(clusterId === 'c1' ? { document: { id: 'c1' } } : undefined),
    },
  };
  return {
    client: client as unknown as df.DurableClient,
    services: services as unknown as Services,
    instances,
    starts,
  };
}

const request: ClusterOperationRequest = {
  clusterId: 'c1',
  kind: 'make-active',
  targetNodeId: 'head-b',
  force: false,
  trigger: { kind: 'api' },
  actor: 'admin',
  reason: 'maintenance',
  avoidRegions: [],
};
const NOW = Date.UTC(2031, 0, 1);

describe('startClusterOperation', () => {
  it('starts cluster-<id> with the request, an operation id by the id rule and the request time', async () => {
    const { client, services, starts } = fakes(NOW);
    const outcome = await startClusterOperation(client, services, request);
    const operationId = `make-active-${NOW.toString(36)}`;
    expect(outcome).toEqual({ ok: true, operationId, started: true, instanceId: 'cluster-c1' });
    expect(isId(operationId)).toBe(true);
    expect(starts).toEqual([
      {
        name: 'clusterOperationOrchestrator',
        instanceId: 'cluster-c1',
        input: { ...request, operationId, requestedAt: NOW },
      },
    ]);
  });

  it('joins the running operation and answers with its id', async () => {
    const { client, services, instances, starts } = fakes(NOW);
    instances.set('cluster-c1', {
      runtimeStatus: 'Running',
      createdTime: new Date(NOW - 5000),
      input: { ...request, kind: 'failover', operationId: 'failover-abc' },
    });
    expect(await startClusterOperation(client, services, request)).toEqual({
      ok: true,
      operationId: 'failover-abc',
      started: false,
      instanceId: 'cluster-c1',
    });
    expect(starts).toEqual([]);
  });

  it('starts a new operation when the last one finished', async () => {
    const { client, services, instances } = fakes(NOW);
    instances.set('cluster-c1', {
      runtimeStatus: 'Completed',
      createdTime: new Date(NOW - 5000),
      input: { operationId: 'failover-old' },
    });
    expect(await startClusterOperation(client, services, request)).toMatchObject({
      started: true,
      operationId: `make-active-${NOW.toString(36)}`,
    });
  });

  it('answers with the winner’s operation when it loses the race to start', async () => {
    const { client, services, instances } = fakes(NOW, { loseRace: true });
    instances.set('cluster-c1', {
      runtimeStatus: 'Completed',
      createdTime: new Date(NOW - 5000),
      input: { operationId: 'failover-old' },
    });
    expect(await startClusterOperation(client, services, request)).toMatchObject({
      ok: true,
      started: false,
      operationId: 'failover-winner',
    });
  });

  it('does not trust a running instance’s input that is not an operation id', async () => {
    const { client, services, instances } = fakes(NOW);
    instances.set('cluster-c1', {
      runtimeStatus: 'Running',
      createdTime: new Date(NOW - 5000),
      input: { operationId: '../../etc' },
    });
    expect(await startClusterOperation(client, services, request)).toMatchObject({
      ok: false,
      kind: 'unavailable',
    });
  });

  it('refuses an undeclared cluster before touching the task hub', async () => {
    const { client, services, starts } = fakes(NOW);
    expect(await startClusterOperation(client, services, { ...request, clusterId: 'ghost' })).toMatchObject({
      ok: false,
      kind: 'not-found',
      code: 'ClusterNotFound',
    });
    expect(starts).toEqual([]);
  });
});
