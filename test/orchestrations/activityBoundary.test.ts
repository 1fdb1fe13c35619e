import path from 'node:path';
import { startDevhost, type Devhost } from '../../devhost';

/**
 * What survives the activity boundary of durable-functions v3 (the reason activities return typed outcomes for
 * what an orchestrator branches on, and throw only faults to retry): a thrown error reaches the orchestrator as a
 * plain `Error` whose message carries the original message; its class name, `code`, `retryable` and fields are gone.
 * A returned outcome arrives whole.
 */
const appDir = path.resolve(__dirname, '../fixtures/apps/activity-boundary');
let host: Devhost;

beforeAll(async () => {
  host = await startDevhost({ appDir, port: 0, storage: 'memory', log: () => undefined });
});
afterAll(async () => {
  await host.stop();
});

it('keeps only the message of a thrown error, and the whole of a returned outcome', async () => {
  const response = await fetch(`${host.url}/api/run/Catches`, { method: 'POST' });
  expect(response.status).toBe(200);
  const caught = (await response.json()) as Record<string, unknown>;
  expect(caught).toMatchObject({
    threw: true,
    returned: { ok: false, code: 'AllocationFailed', site: 'westeurope' },
    isError: true,
    code: null,
    retryable: null,
    site: null,
  });
  expect(caught.name).not.toBe('CapacityError');
  expect(caught.message).toContain('no capacity for Standard_ND96 in westeurope');
  expect(caught.message).toContain("Activity function 'Throws' failed");
});
