import { main } from '../agent/cli';
import * as decisions from '../shared/domain/decisions';

/**
 * A deliberately broken agent, for the proof that the chaos checker can fail (`npm run chaos -- --broken
 * ignore-lease`): the real agent, but its lease rule patched in this process so that it keeps acting as active for
 * `CHAOS_BROKEN_EXTRA_MS` (default 8 s) after its lease lapsed. Harness code only: nothing in agent/ can be configured
 * to do this.
 */
const extraMs = Number(process.env.CHAOS_BROKEN_EXTRA_MS ?? 8000);
const honest = decisions.agentHoldsLease;
Object.defineProperty(decisions, 'agentHoldsLease', {
  value: (sentAt: number, leaseMs: number, now: number) => honest(sentAt, leaseMs + extraMs, now),
});

main(process.argv.slice(2))
  .then((code) => process.exit(code))
  .catch((error: unknown) => {
    process.stderr.write(`broken agent: ${error instanceof Error ? error.message : String(error)}\n`);
    process.exit(1);
  });
