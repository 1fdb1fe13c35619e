import { dueSlot, MAX_CATCH_UP_MS, slotDrillId } from '../../../shared/domain/drillSchedule';

const at = (iso: string) => Date.parse(iso);
const EVERY_5_MIN = '0 */5 * * * *';

describe('dueSlot', () => {
  it('answers the slot at exactly now, and nothing before it', () => {
    const since = at('2030-01-01T09:58:00Z');
    expect(dueSlot(EVERY_5_MIN, at('2030-01-01T09:59:59.999Z'), since)).toBeUndefined();
    expect(dueSlot(EVERY_5_MIN, at('2030-01-01T10:00:00Z'), since)).toBe(at('2030-01-01T10:00:00Z'));
    expect(dueSlot(EVERY_5_MIN, at('2030-01-01T10:00:29Z'), since)).toBe(at('2030-01-01T10:00:00Z'));
  });

  it('excludes the slot equal to since (already handled) and includes one just after it', () => {
    const slot = at('2030-01-01T10:00:00Z');
    expect(dueSlot(EVERY_5_MIN, at('2030-01-01T10:04:00Z'), slot)).toBeUndefined();
    expect(dueSlot(EVERY_5_MIN, at('2030-01-01T10:04:00Z'), slot - 1)).toBe(slot);
  });

  it('answers only the latest of several missed slots', () => {
    const since = at('2030-01-01T10:00:00Z');
    // Down from 10:00 to 10:27: the 10:05, 10:10, 10:15, 10:20 and 10:25 slots were missed.
    expect(dueSlot(EVERY_5_MIN, at('2030-01-01T10:27:13Z'), since)).toBe(at('2030-01-01T10:25:00Z'));
  });

  it('does not start a slot older than the catch-up bound late', () => {
    const daily = '0 0 3 * * *';
    const since = at('2030-01-01T03:00:00Z');
    // The 2 January 03:00 slot, seen at 02:59 on 3 January (just under 24 h late): still started.
    expect(dueSlot(daily, at('2030-01-03T02:59:00Z'), since)).toBe(at('2030-01-02T03:00:00Z'));
    // At 03:00 on 3 January that slot is exactly 24 h old: the 3 January slot is due instead.
    expect(dueSlot(daily, at('2030-01-02T03:00:00Z') + MAX_CATCH_UP_MS, since)).toBe(
      at('2030-01-03T03:00:00Z'),
    );
    const weekly = '0 0 3 * * 0'; // Sundays 03:00 (6 January 2030 is a Sunday)
    expect(dueSlot(weekly, at('2030-01-07T02:59:59Z'), since)).toBe(at('2030-01-06T03:00:00Z'));
    expect(dueSlot(weekly, at('2030-01-07T03:00:01Z'), since)).toBeUndefined();
    expect(dueSlot(weekly, at('2030-01-07T03:00:01Z'), since, { maxCatchUpMs: 2 * MAX_CATCH_UP_MS })).toBe(
      at('2030-01-06T03:00:00Z'),
    );
  });

  it('reads the six fields in UTC, seconds first, with day-of-month and day-of-week both required', () => {
    // Second 30 of minute 15 of hour 12, on the 13th when it is a Friday (13 September 2030).
    const expr = '30 15 12 13 * 5';
    const since = at('2030-01-01T00:00:00Z');
    expect(dueSlot(expr, at('2030-09-13T12:15:30Z'), since, { maxCatchUpMs: 365 * MAX_CATCH_UP_MS })).toBe(
      at('2030-09-13T12:15:30Z'),
    );
    // 13 August 2030 is a Tuesday: not a slot, so at that moment the latest slot is none since 1 January.
    expect(
      dueSlot(expr, at('2030-08-13T12:15:30Z'), since, { maxCatchUpMs: 365 * MAX_CATCH_UP_MS }),
    ).toBeUndefined();
  });

  it('answers nothing for a schedule that never fires, or when since is not before now', () => {
    expect(dueSlot('0 0 0 30 2 *', at('2030-03-01T00:00:00Z'), at('2030-01-01T00:00:00Z'))).toBeUndefined();
    const now = at('2030-01-01T10:00:00Z');
    expect(dueSlot(EVERY_5_MIN, now, now)).toBeUndefined();
    expect(dueSlot(EVERY_5_MIN, now, now + 60_000)).toBeUndefined();
  });
});

describe('slotDrillId', () => {
  it('is drill-<slot in base 36>, the same on every host', () => {
    const slot = at('2030-01-01T10:00:00Z');
    expect(slotDrillId(slot)).toBe(`drill-${slot.toString(36)}`);
    expect(slotDrillId(slot)).toMatch(/^drill-[0-9a-z]+$/);
    expect(slotDrillId(slot)).not.toBe(slotDrillId(slot + 1000));
  });
});
