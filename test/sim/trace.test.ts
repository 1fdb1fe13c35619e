import { Recorder } from '../../sim/trace';

describe('Recorder', () => {
  it('ends a lease segment early when the lease is dropped, and at its end otherwise', () => {
    const r = new Recorder(false);
    r.openSegment('a', 2, 1, 0, 100);
    r.closeSegment('a', 40, 'demoted');
    r.openSegment('a', 3, 1, 50, 150);
    r.closeSegment('a', 400, 'lease ran out');
    expect(r.segments).toEqual([
      { node: 'a', grantId: 2, epoch: 1, start: 0, end: 40, endedBy: 'demoted' },
      { node: 'a', grantId: 3, epoch: 1, start: 50, end: 150, endedBy: 'lease end' },
    ]);
  });

  it('ends the previous segment when a newer grant arrives, and drops empty ones', () => {
    const r = new Recorder(false);
    r.openSegment('a', 2, 1, 0, 100);
    r.openSegment('a', 3, 1, 60, 160);
    r.openSegment('b', 4, 1, 500, 400); // arrived after it had run out
    r.closeAll(1000);
    expect(r.segments.map((s) => [s.node, s.start, s.end, s.endedBy])).toEqual([
      ['a', 0, 60, 'newer grant'],
      ['a', 60, 160, 'lease end'],
    ]);
  });

  it('keeps message-level detail only when verbose', () => {
    const quiet = new Recorder(false);
    const verbose = new Recorder(true);
    for (const r of [quiet, verbose]) r.detail(1, 'cp', () => 'hello');
    expect(quiet.log).toEqual([]);
    expect(verbose.log).toEqual([{ t: 1, who: 'cp', what: 'hello' }]);
  });
});
