import type * as df from 'durable-functions';
import { readStatus, startOrJoin, waitForInstance } from '../../../functions/durable/singleton';
import { isRetryable } from '../../../shared/errors';

/**
 * The durable client is the library's own HTTP client; these tests stand in for the task hub behind it with a small
 * fake of the three calls the helper makes, to pin down how each backend answer is read.
 */
type Row = { runtimeStatus: string; createdTime: Date; output?: unknown };

function fakeClient(options: { down?: boolean; startFails?: (id: string) => boolean } = {}) {
  const instances = new Map<string, Row>();
  let created = 0;
  const starts: string[] = [];
  const client = {
    getStatus(instanceId: string) {
      if (options.down) return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:10002'));
      const row = instances.get(instanceId);
      if (!row)
        return Promise.reject(
          new Error(
            `DurableClient error: Durable Functions extension replied with HTTP 404 response. This usually means we could not find any data associated with the instanceId provided: ${instanceId}.`,
          ),
        );
      return Promise.resolve(row);
    },
    startNew(_name: string, init: { instanceId: string }) {
      starts.push(init.instanceId);
      if (options.startFails?.(init.instanceId)) {
        // Another starter won the race: the instance exists now, and this start is refused.
        instances.set(init.instanceId, { runtimeStatus: 'Running', createdTime: new Date(++created) });
        return Promise.reject(
          new Error('DurableClient error: Durable Functions extension replied with HTTP 409'),
        );
      }
      instances.set(init.instanceId, { runtimeStatus: 'Pending', createdTime: new Date(++created) });
      return Promise.resolve(init.instanceId);
    },
  };
  return { client: client as unknown as df.DurableClient, instances, starts };
}

const input = { clusterId: 'c', epoch: 1, windowMs: 10 };

describe('start-or-join the one instance of a singleton', () => {
  it('starts an instance that does not exist', async () => {
    const { client, starts } = fakeClient();
    const result = await startOrJoin(
      client,
      'arbitrationOrchestrator',
      'arbitrate-c-1',
      input,
      'not-running',
    );
    expect(result).toMatchObject({ started: true, previous: undefined });
    expect(starts).toEqual(['arbitrate-c-1']);
  });

  it('joins a running instance instead of starting another', async () => {
    const { client, instances, starts } = fakeClient();
    instances.set('x', { runtimeStatus: 'Running', createdTime: new Date(1) });
    const result = await startOrJoin(client, 'arbitrationOrchestrator', 'x', input, 'not-running');
    expect(result).toMatchObject({ started: false, previous: { runtimeStatus: 'Running' } });
    expect(starts).toEqual([]);
  });

  it('joins a completed arbitration (its decision stands) but restarts a failed one', async () => {
    const { client, instances } = fakeClient();
    instances.set('done', { runtimeStatus: 'Completed', createdTime: new Date(1) });
    instances.set('failed', { runtimeStatus: 'Failed', createdTime: new Date(1) });
    expect(
      (await startOrJoin(client, 'arbitrationOrchestrator', 'done', input, 'absent-or-failed')).started,
    ).toBe(false);
    expect(
      (await startOrJoin(client, 'arbitrationOrchestrator', 'failed', input, 'absent-or-failed')).started,
    ).toBe(true);
  });

  it('starts a new cluster operation when the last one finished', async () => {
    const { client, instances } = fakeClient();
    instances.set('cluster-c', { runtimeStatus: 'Completed', createdTime: new Date(1) });
    expect(
      (await startOrJoin(client, 'arbitrationOrchestrator', 'cluster-c', input, 'not-running')).started,
    ).toBe(true);
  });

  it('joins the winner when it loses the race to start', async () => {
    const { client } = fakeClient({ startFails: () => true });
    const result = await startOrJoin(client, 'arbitrationOrchestrator', 'raced', input, 'not-running');
    expect(result).toMatchObject({ started: false });
  });

  it('reports an unreachable task hub as a retryable failure (503), never as "not found"', async () => {
    const { client } = fakeClient({ down: true });
    const failure = await startOrJoin(client, 'arbitrationOrchestrator', 'x', input, 'not-running').catch(
      (e: unknown) => e,
    );
    expect(failure).toMatchObject({ code: 'DurableBackendUnavailable' });
    expect(isRetryable(failure)).toBe(true);
    await expect(readStatus(client, 'x')).rejects.toMatchObject({ code: 'DurableBackendUnavailable' });
  });

  it('reads "not found" as absent', async () => {
    const { client } = fakeClient();
    expect(await readStatus(client, 'nobody')).toBeUndefined();
    expect(await waitForInstance(client, 'nobody', 0)).toEqual({ state: 'absent' });
  });

  it('waits for an instance to finish, and says running when it does not in time', async () => {
    const { client, instances } = fakeClient();
    instances.set('slow', { runtimeStatus: 'Running', createdTime: new Date(1) });
    expect(await waitForInstance(client, 'slow', 0)).toEqual({ state: 'running' });
    instances.set('done', { runtimeStatus: 'Completed', createdTime: new Date(1), output: { epoch: 2 } });
    expect(await waitForInstance(client, 'done', 1000)).toEqual({ state: 'completed', output: { epoch: 2 } });
    instances.set('bad', { runtimeStatus: 'Terminated', createdTime: new Date(1) });
    expect(await waitForInstance(client, 'bad', 1000)).toMatchObject({ state: 'failed' });
  });
});
