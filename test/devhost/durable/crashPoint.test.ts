import { parseCli, UsageError } from '../../../devhost/cli';
import { CrashPoint, parseCrashAt } from '../../../devhost/durable/crashPoint';

describe('the crash point (tests only)', () => {
  it('parses activity:<n>:<when> and refuses anything else, naming the form', () => {
    expect(parseCrashAt('activity:3:after-side-effect')).toEqual({ activity: 3, when: 'after-side-effect' });
    expect(parseCrashAt('activity:1:after-recorded')).toEqual({ activity: 1, when: 'after-recorded' });
    for (const bad of [
      'activity:0:after-recorded',
      'activity:x:after-recorded',
      'activity:2:later',
      'orchestrator:2:after-recorded',
      'activity:2:after-recorded:extra',
      '',
    ])
      expect(() => parseCrashAt(bad)).toThrow(/activity:<n>:<when>/);
  });

  it('dies exactly at the n-th activity execution and the chosen moment, never elsewhere', () => {
    const deaths: string[] = [];
    const point = new CrashPoint({ activity: 2, when: 'after-recorded' }, () => deaths.push('died'));
    const first = point.activityReturned();
    point.reached(first, 'after-side-effect', 'a');
    point.reached(first, 'after-recorded', 'a');
    const second = point.activityReturned();
    point.reached(second, 'after-side-effect', 'b');
    expect(deaths).toEqual([]);
    point.reached(second, 'after-recorded', 'b');
    expect(deaths).toEqual(['died']);
  });

  it('is off without a setting', () => {
    const deaths: string[] = [];
    const off = new CrashPoint(undefined, () => deaths.push('died'));
    for (let i = 0; i < 5; i++) {
      const n = off.activityReturned();
      off.reached(n, 'after-side-effect', 'x');
      off.reached(n, 'after-recorded', 'x');
    }
    expect(deaths).toEqual([]);
    expect(CrashPoint.fromEnv({}).activityReturned()).toBe(1);
  });

  it('is a CLI flag, validated before anything starts', () => {
    expect(parseCli(['start', '--crash-at', 'activity:4:after-side-effect']).crashAt).toBe(
      'activity:4:after-side-effect',
    );
    expect(parseCli(['start']).crashAt).toBeUndefined();
    expect(() => parseCli(['start', '--crash-at', 'activity:4'])).toThrow(UsageError);
  });
});
