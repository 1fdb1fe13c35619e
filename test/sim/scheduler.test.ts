import { Scheduler } from '../../sim/scheduler';

describe('Scheduler', () => {
  it('runs events in time order, ties in the order they were scheduled', () => {
    const s = new Scheduler();
    const seen: string[] = [];
    s.at(5, () => seen.push('5a'));
    s.at(1, () => seen.push('1'));
    s.at(5, () => seen.push('5b'));
    s.at(3, () => seen.push('3'));
    s.at(5, () => seen.push('5c'));
    s.runUntil(10);
    expect(seen).toEqual(['1', '3', '5a', '5b', '5c']);
    expect(s.now).toBe(10);
    expect(s.eventsProcessed).toBe(5);
  });

  it('keeps its order over many events scheduled from events', () => {
    const s = new Scheduler();
    const times: number[] = [];
    let x = 1;
    const next = () => {
      times.push(s.now);
      x = (x * 48271) % 2147483647;
      if (times.length < 5000) s.after(x % 97, next);
    };
    for (let i = 0; i < 10; i++) s.at(i, next);
    s.runUntil(Number.POSITIVE_INFINITY);
    expect(times).toEqual([...times].sort((a, b) => a - b));
  });

  it('never runs an event in the past, and stops before the end time', () => {
    const s = new Scheduler();
    const seen: number[] = [];
    s.at(4, () => s.at(2, () => seen.push(s.now)));
    s.at(20, () => seen.push(-1));
    s.runUntil(20);
    expect(seen).toEqual([4]);
    s.runUntil(21);
    expect(seen).toEqual([4, -1]);
  });
});
