import type { JournalRecord } from '../../agent/journal';
import {
  actingIntervals,
  checkRun,
  formatViolations,
  longestGap,
  parseJsonLines,
  type ActingInterval,
  type CheckInput,
} from '../../chaos/checker';

const MS = 1_000_000n;
let pid = 100;
/** A journal of one agent process: start at `from` ms, ticks every 100 ms, end at `to` ms (or just ticks). */
function interval(
  cluster: string,
  node: string,
  epoch: number,
  from: number,
  to: number,
  options: { end?: boolean; pid?: number } = {},
): JournalRecord[] {
  const p = options.pid ?? pid++;
  const at = (ms: number) => (BigInt(ms) * MS).toString();
  const records: JournalRecord[] = [{ t: 'start', cluster, node, pid: p, epoch, mono: at(from) }];
  for (let t = from + 100; t < to; t += 100)
    records.push({ t: 'tick', cluster, node, pid: p, epoch, mono: at(t) });
  records.push(
    options.end === false
      ? { t: 'tick', cluster, node, pid: p, epoch, mono: at(to) }
      : { t: 'end', cluster, node, pid: p, epoch, mono: at(to), reason: 'demote' },
  );
  return records;
}

const base = (over: Partial<CheckInput> = {}): CheckInput => ({
  seed: 7,
  schedule: ['t+1000ms sigstop c1/head-a 6000ms'],
  journals: [],
  hooks: [],
  cloudRequests: [],
  armActions: [],
  operations: [],
  ...over,
});

describe('acting intervals', () => {
  it('runs from the start to the last tick or end of one process; a new epoch opens a new interval', () => {
    const records = [
      ...interval('c1', 'a', 1, 0, 1000, { end: false, pid: 1 }),
      {
        t: 'tick',
        cluster: 'c1',
        node: 'a',
        pid: 1,
        epoch: 2,
        mono: (1100n * MS).toString(),
      } as JournalRecord,
    ];
    const found = actingIntervals(records);
    expect(found.map((i) => [i.epoch, i.start / MS, i.end / MS])).toEqual([
      [1, 0n, 1000n],
      [2, 1100n, 1100n],
    ]);
  });

  it('skips a torn last line', () => {
    expect(parseJsonLines('{"a":1}\n{"a":2}\n{"a"')).toEqual([{ a: 1 }, { a: 2 }]);
  });
});

describe('checkRun', () => {
  it('accepts a clean handover: one active after the other, epochs going up', () => {
    const journals = [
      ...interval('c1', 'a', 1, 0, 1000),
      ...interval('c1', 'b', 2, 1500, 3000, { end: false }),
    ];
    expect(checkRun(base({ journals }))).toEqual([]);
  });

  it('finds two actives at once, and prints the seed, the schedule and the journal lines', () => {
    const journals = [
      ...interval('c1', 'a', 1, 0, 2000, { end: false }),
      ...interval('c1', 'b', 2, 1500, 3000),
      // another cluster at the same time is no overlap
      ...interval('c2', 'a', 1, 0, 3000),
    ];
    const violations = checkRun(base({ journals }));
    expect(violations.map((v) => [v.rule, v.cluster])).toEqual([['overlap', 'c1']]);
    expect(violations[0]?.message).toMatch(/two actives at once for 500\.0 ms/);
    const report = formatViolations(base(), violations);
    expect(report).toContain('--seed 7');
    expect(report).toContain('t+1000ms sigstop c1/head-a 6000ms');
    expect(report).toContain('"node":"b"');
  });

  it('finds an epoch that goes back, and one epoch acted under by two nodes', () => {
    const back = checkRun(
      base({ journals: [...interval('c1', 'a', 3, 0, 1000), ...interval('c1', 'b', 2, 1200, 2000)] }),
    );
    expect(back.map((v) => v.rule)).toEqual(['epoch']);
    expect(back[0]?.message).toMatch(/went back from 3 to 2/);
    const shared = checkRun(
      base({ journals: [...interval('c1', 'a', 3, 0, 1000), ...interval('c1', 'b', 3, 1200, 2000)] }),
    );
    expect(shared.map((v) => v.message)).toEqual([expect.stringMatching(/epoch 3 acted under by two nodes/)]);
  });

  it('finds a hook step run twice for one command id', () => {
    const h = {
      cluster: 'c1',
      node: 'b',
      commandId: 'promote-2',
      operation: 'promote',
      step: 'main',
      epoch: 2,
    };
    expect(checkRun(base({ hooks: [h, { ...h, step: 'post' }] }))).toEqual([]);
    expect(checkRun(base({ hooks: [h, { ...h, node: 'a' }] }))).toEqual([]);
    const twice = checkRun(base({ hooks: [h, h] }));
    expect(twice.map((v) => v.rule)).toEqual(['hook-twice']);
  });

  it('finds a cloud operation applied twice for one idempotency key, or an ARM action repeated', () => {
    const r = {
      at: 1,
      cloud: 'oci',
      method: 'POST',
      path: '/oci/x/instances/i1',
      status: 200,
      idempotencyKey: 'k1',
    };
    expect(checkRun(base({ cloudRequests: [r, { ...r, replayed: true }, { ...r, status: 429 }] }))).toEqual(
      [],
    );
    expect(checkRun(base({ cloudRequests: [r, { ...r, at: 2 }] })).map((v) => v.rule)).toEqual([
      'cloud-repeat',
    ]);
    const off = { at: 1, action: 'powerOff', resourceId: '/vm/a' };
    expect(checkRun(base({ armActions: [off, { ...off, action: 'start' }, off] }))).toEqual([]);
    expect(
      checkRun(base({ armActions: [off, { ...off, action: 'deallocate' }] })).map((v) => v.rule),
    ).toEqual(['cloud-repeat']);
  });

  it('finds an operation that did not end, or failed without a reason', () => {
    const op = { clusterId: 'c1', operationId: 'op-1', kind: 'failover' };
    expect(
      checkRun(
        base({
          operations: [
            { ...op, status: 'succeeded' },
            { ...op, status: 'refused' },
            { ...op, status: 'failed', reason: 'no candidate' },
            // A detection carries the reason in its outcome (the failover that handled it, and why).
            {
              ...op,
              kind: 'failure-detected',
              status: 'failed',
              outcome: { reason: 'no healthy node to promote' },
            },
          ],
        }),
      ),
    ).toEqual([]);
    const bad = checkRun(
      base({
        operations: [
          { ...op, status: 'running' },
          { ...op, status: 'failed' },
          { ...op, status: 'failed', outcome: {} },
        ],
      }),
    );
    expect(bad.map((v) => v.message)).toEqual([
      'operation op-1 (failover) did not end: running',
      'operation op-1 (failover) failed without a reason',
      'operation op-1 (failover) failed without a reason',
    ]);
  });

  it('finds a cluster with no active within the bound after the faults stopped', () => {
    const journals = [...interval('c1', 'a', 1, 0, 5000, { end: false }), ...interval('c2', 'a', 1, 0, 1000)];
    const liveness = { healedAt: 2000n * MS, boundMs: 1000, clusters: ['c1', 'c2'] };
    const found = checkRun(base({ journals, liveness: [liveness] }));
    expect(found.map((v) => [v.rule, v.cluster])).toEqual([['liveness', 'c2']]);
    const late = checkRun(
      base({ journals: interval('c1', 'a', 1, 4000, 5000), liveness: [{ ...liveness, clusters: ['c1'] }] }),
    );
    expect(late[0]?.message).toMatch(/first after 2000\.0 ms/);
  });
});

describe('longestGap', () => {
  const iv = (node: string, start: number, end: number): ActingInterval => ({
    cluster: 'c1',
    node,
    pid: 1,
    epoch: 1,
    start: BigInt(start),
    end: BigInt(end),
    endedBy: 'end',
    records: [],
  });

  it('is 0 when the intervals cover the window, overlapping or clipped at its edges', () => {
    expect(longestGap([iv('a', 0, 60), iv('b', 50, 200)], 'c1', 10n, 150n)).toBe(0n);
  });

  it('finds the longest uncovered stretch, at the start, between intervals or at the end', () => {
    expect(longestGap([iv('a', 30, 40), iv('b', 45, 60)], 'c1', 0n, 100n)).toBe(40n);
    expect(longestGap([iv('a', 0, 40), iv('b', 90, 100)], 'c1', 0n, 100n)).toBe(50n);
    expect(longestGap([iv('a', 5, 95)], 'c1', 0n, 100n)).toBe(5n);
  });

  it('counts only the cluster asked about, and the whole window when nobody acted', () => {
    expect(longestGap([{ ...iv('a', 0, 100), cluster: 'c2' }], 'c1', 0n, 100n)).toBe(100n);
  });
});
