import { Prng } from '../../chaos/prng';
import { describeEvent, makeSchedules, type ScheduleOptions } from '../../chaos/schedule';

const options: ScheduleOptions = {
  seed: 42,
  schedules: 5,
  durationMs: 30_000,
  clusters: ['chaos-1', 'chaos-2'],
  leaseMs: 2000,
};

describe('fault schedules', () => {
  it('are a function of the seed: the same seed replays them, another seed does not', () => {
    const lines = (o: ScheduleOptions) =>
      makeSchedules(o).flatMap((s) => s.events.map((e) => describeEvent(s.index, e)));
    expect(lines(options)).toEqual(lines({ ...options }));
    expect(lines({ ...options, seed: 43 })).not.toEqual(lines(options));
  });

  it('stay within the schedule, draw pauses and partitions both shorter and longer than the lease, and mix kinds', () => {
    const schedules = makeSchedules({ ...options, schedules: 20 });
    const events = schedules.flatMap((s) => s.events);
    for (const e of events) expect(e.atMs + e.durationMs).toBeLessThanOrEqual(options.durationMs);
    const cuts = events.filter((e) => e.kind === 'agent-pause' || e.kind === 'partition');
    expect(cuts.some((e) => e.durationMs > options.leaseMs)).toBe(true);
    expect(cuts.some((e) => e.durationMs < options.leaseMs)).toBe(true);
    expect(new Set(events.map((e) => e.kind)).size).toBeGreaterThanOrEqual(10);
  });

  it('include control-plane outages, peer partitions, storage stalls and clock steps, the cluster-wide ones on any node', () => {
    const events = makeSchedules({ ...options, schedules: 40 }).flatMap((s) => s.events);
    const kinds = new Set(events.map((e) => e.kind));
    for (const kind of ['host-outage', 'peer-partition', 'storage-stall', 'clock-step'] as const)
      expect(kinds.has(kind)).toBe(true);
    for (const e of events.filter((x) => x.kind === 'host-outage' || x.kind === 'storage-stall'))
      expect(e.target).toBe('any');
    // An outage lasts at least a lease (the active must outlive its control-plane lease on promises).
    const outages = events.filter(
      (e) => e.kind === 'host-outage' && e.atMs + options.leaseMs < options.durationMs,
    );
    expect(outages.some((e) => e.durationMs > options.leaseMs)).toBe(true);
  });

  it('leaves out the kinds asked, and can aim every fault at the active for at least a given time', () => {
    const events = makeSchedules({ ...options, without: ['host-kill'] }).flatMap((s) => s.events);
    expect(events.some((e) => e.kind === 'host-kill')).toBe(false);
    const only = makeSchedules({
      ...options,
      only: ['partition'],
      target: 'active',
      minFaultMs: 8000,
    }).flatMap((s) => s.events);
    expect(new Set(only.map((e) => `${e.kind} ${e.target}`))).toEqual(new Set(['partition active']));
    for (const e of only) expect(e.durationMs).toBe(Math.min(8000, options.durationMs - e.atMs));
  });

  it('the PRNG is seeded and uniform enough', () => {
    const a = new Prng(1);
    const b = new Prng(1);
    const draws = Array.from({ length: 1000 }, () => a.next());
    expect(draws).toEqual(Array.from({ length: 1000 }, () => b.next()));
    expect(draws.every((x) => x >= 0 && x < 1)).toBe(true);
    const mean = draws.reduce((x, y) => x + y, 0) / draws.length;
    expect(mean).toBeGreaterThan(0.45);
    expect(mean).toBeLessThan(0.55);
  });
});
