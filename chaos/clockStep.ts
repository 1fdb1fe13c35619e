import { readFileSync } from 'node:fs';

/**
 * Preloaded into an agent process by the chaos harness (`node --require dist/chaos/clockStep.js`): steps the
 * process's WALL clock (`Date.now`, which the agent signs its requests with) by the offset in ms written to the file
 * `CHAOS_CLOCK_FILE` (absent or empty: no step), read every 50 ms — as an NTP step or an operator's `date -s` would.
 * The monotonic clock (leases, the journal) is untouched, as on a real machine. Harness code only: nothing in agent/
 * reads it.
 */
const file = process.env.CHAOS_CLOCK_FILE;
if (file) {
  const realNow = Date.now.bind(Date);
  let offset = 0;
  const read = () => {
    try {
      const text = readFileSync(file, 'utf8').trim();
      const n = text ? Number(text) : 0;
      offset = Number.isFinite(n) ? n : 0;
    } catch {
      offset = 0;
    }
  };
  read();
  setInterval(read, 50).unref();
  Date.now = () => realNow() + offset;
}
