import { realRequire } from '../../../devhost/realRequire';
import { parseSchedule } from '../../../devhost/timers/timerTriggerScheduler';

const at = (iso: string) => Date.parse(iso);
const nextIso = (expression: string, afterIso: string) => {
  const next = parseSchedule(expression).next(at(afterIso));
  return next === undefined ? undefined : new Date(next).toISOString();
};

describe('parseSchedule', () => {
  // Jest gives tests a copy of process.env; TZ must change on the real one for Date to notice.
  const realEnv = (realRequire(__filename)('node:process') as NodeJS.Process).env;
  const originalTz = realEnv.TZ;
  beforeAll(() => {
    // A zone far from UTC: if schedules were evaluated in local time, the UTC expectations below would fail.
    realEnv.TZ = 'America/New_York';
  });
  afterAll(() => {
    if (originalTz === undefined) delete realEnv.TZ;
    else realEnv.TZ = originalTz;
  });

  it('runs under a non-UTC local zone (the precondition of the UTC assertions)', () => {
    expect(new Date(at('2030-01-01T12:00:00Z')).getHours()).not.toBe(12);
  });

  it('reads six fields with seconds first: every 5 minutes on the minute', () => {
    expect(nextIso('0 */5 * * * *', '2030-01-01T12:01:30Z')).toBe('2030-01-01T12:05:00.000Z');
    expect(nextIso('0 */5 * * * *', '2030-01-01T12:04:59.999Z')).toBe('2030-01-01T12:05:00.000Z');
  });

  it('returns the next occurrence strictly after the given time', () => {
    expect(nextIso('0 */5 * * * *', '2030-01-01T12:05:00Z')).toBe('2030-01-01T12:10:00.000Z');
    expect(nextIso('*/1 * * * * *', '2030-01-01T00:00:00Z')).toBe('2030-01-01T00:00:01.000Z');
    expect(nextIso('*/1 * * * * *', '2030-01-01T00:00:00.500Z')).toBe('2030-01-01T00:00:01.000Z');
  });

  it('evaluates hours in UTC, not in the local zone', () => {
    expect(nextIso('0 0 9 * * *', '2030-01-01T08:00:00Z')).toBe('2030-01-01T09:00:00.000Z');
    expect(nextIso('0 0 9 * * *', '2030-01-01T09:00:00Z')).toBe('2030-01-02T09:00:00.000Z');
    expect(nextIso('0 30 23 * * *', '2030-06-30T23:00:00Z')).toBe('2030-06-30T23:30:00.000Z');
  });

  it('honours a weekday range: 30 0 9 * * 1-5 skips the weekend', () => {
    // 2030-01-04 is a Friday, 2030-01-07 a Monday.
    expect(new Date(at('2030-01-04T00:00:00Z')).getUTCDay()).toBe(5);
    expect(nextIso('30 0 9 * * 1-5', '2030-01-04T08:00:00Z')).toBe('2030-01-04T09:00:30.000Z');
    expect(nextIso('30 0 9 * * 1-5', '2030-01-04T10:00:00Z')).toBe('2030-01-07T09:00:30.000Z');
    expect(nextIso('30 0 9 * * 1-5', '2030-01-05T12:00:00Z')).toBe('2030-01-07T09:00:30.000Z');
  });

  it('describes a cron schedule by its expression', () => {
    expect(parseSchedule('  0 */5 * * * *  ').describe()).toBe('0 */5 * * * *');
  });

  it('refuses a 5-field (minute-first) expression with a clear error', () => {
    expect(() => parseSchedule('*/5 * * * *')).toThrow(/not a 6-field NCRONTAB expression/);
    expect(() => parseSchedule('*/5 * * * *')).toThrow(
      /\{second\} \{minute\} \{hour\} \{day\} \{month\} \{day-of-week\}/,
    );
  });

  it('refuses expressions with too many fields or none', () => {
    expect(() => parseSchedule('0 0 0 1 1 * 2030')).toThrow(/6-field/);
    expect(() => parseSchedule('')).toThrow(/6-field/);
  });

  it('reads a TimeSpan as a fixed interval from the given time', () => {
    const every10s = parseSchedule('00:00:10');
    expect(every10s.next(at('2030-01-01T12:00:03Z'))).toBe(at('2030-01-01T12:00:13Z'));
    expect(every10s.describe()).toBe('every 00:00:10');
    expect(parseSchedule('01:30:00').next(0)).toBe(90 * 60_000);
    expect(parseSchedule('1.00:00:00').next(1000)).toBe(1000 + 86_400_000);
  });

  it('refuses a zero interval', () => {
    expect(() => parseSchedule('00:00:00')).toThrow(/must be positive/);
  });
});
