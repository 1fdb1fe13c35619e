import { startAzurite, type RunningAzurite } from '../../../devhost';
import { event, EventType } from '../../../devhost/durable/historyEvent';
import { HistoryConflictError, TaskHubStore } from '../../../devhost/durable/taskHubStore';
import { taskHubNames } from '../../../devhost/durable/taskHubNames';

let azurite: RunningAzurite;
let store: TaskHubStore;

beforeAll(async () => {
  azurite = await startAzurite({ inMemory: true });
  store = new TaskHubStore(azurite.connectionString, taskHubNames('StoreTestHub'));
  await store.initialize();
});
afterAll(async () => {
  await azurite.stop();
});

const os = (n: number) => event(EventType.OrchestratorStarted, Date.UTC(2030, 0, 1, 0, 0, n));

describe('TaskHubStore on Azurite', () => {
  it('appends history under the sentinel ETag and returns the ETag the next append needs', async () => {
    const first = await store.appendHistory('h1', 'e1', 0, [os(1), os(2)], undefined);
    const loaded = await store.loadHistory('h1', 'e1');
    expect(loaded.events.map((e) => e.Timestamp)).toEqual([os(1).Timestamp, os(2).Timestamp]);
    expect(loaded.etag).toBe(first);
    const second = await store.appendHistory('h1', 'e1', 2, [os(3)], first);
    expect(second).toBe((await store.loadHistory('h1', 'e1')).etag);
    expect(second).not.toBe(first);
  });

  it('refuses an append based on a stale ETag as a history conflict, leaving the history unchanged', async () => {
    const etag = await store.appendHistory('h2', 'e1', 0, [os(1)], undefined);
    await store.appendHistory('h2', 'e1', 1, [os(2)], etag);
    await expect(store.appendHistory('h2', 'e1', 1, [os(9)], etag)).rejects.toBeInstanceOf(
      HistoryConflictError,
    );
    const loaded = await store.loadHistory('h2', 'e1');
    expect(loaded.events.map((e) => e.Timestamp)).toEqual([os(1).Timestamp, os(2).Timestamp]);
  });

  it('refuses to create a second first-turn history for the same execution', async () => {
    await store.appendHistory('h3', 'e1', 0, [os(1)], undefined);
    await expect(store.appendHistory('h3', 'e1', 0, [os(2)], undefined)).rejects.toBeInstanceOf(
      HistoryConflictError,
    );
  });

  it('keeps history larger than a table property in a blob and reads it back', async () => {
    const big = 'x'.repeat(100_000);
    await store.appendHistory(
      'h4',
      'e1',
      0,
      [event(EventType.ExecutionStarted, 0, { Name: 'O', Input: JSON.stringify(big) })],
      undefined,
    );
    const [started] = (await store.loadHistory('h4', 'e1')).events;
    expect(JSON.parse(started?.Input ?? 'null')).toBe(big);
  });

  it('returns due timers earliest first and none before their time', async () => {
    const message = (id: number) => ({
      kind: 'event' as const,
      instanceId: 't1',
      executionId: 'e1',
      event: event(EventType.TimerFired, 0, { TimerId: id }),
    });
    await store.addTimer(message(2), 2_000);
    await store.addTimer(message(1), 1_000);
    expect(await store.dueTimers(999)).toEqual([]);
    expect((await store.dueTimers(2_000)).map((t) => t.message.event?.TimerId)).toEqual([1, 2]);
  });
});
