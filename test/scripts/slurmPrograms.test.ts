import { execFile } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { paths } from '../../shared/contracts/routes';
import { root, startControlPlane, twoNodeCluster, type ControlPlane } from '../helpers/controlPlane';
import { request } from '../helpers/durableHttp';
import { waitFor } from '../helpers/waitFor';

/**
 * Slurm's power saving drives the pool (issue 11): the ResumeProgram and SuspendProgram scripts run as real processes,
 * with a stand-in `scontrol` that expands hostlists as Slurm's does, against the running app. Resume grows the
 * pool's demand by the nodes named (and a spillover run places them), suspend shrinks it; bad settings exit 1 with
 * one line, and the key never appears in the output.
 */
const run = promisify(execFile);
const SCALE_SETS =
  '/subscriptions/00000000-0000-0000-0000-00000000f00d/resourceGroups/hpc-demo/providers/Microsoft.Compute/virtualMachineScaleSets';
let cp: ControlPlane;
let bin: string;

beforeAll(async () => {
  cp = await startControlPlane({}, { cloudSimulator: true });
  const declared = await request(`${cp.host.url}${paths.cluster('slurm')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: {
      ...twoNodeCluster('slurm'),
      pools: [
        {
          id: 'gpu',
          desired: 0,
          sites: [
            {
              id: 'ne',
              cloud: 'azure',
              region: 'northeurope',
              size: 'Standard_NC24ads_A100_v4',
              group: `${SCALE_SETS}/gpu-northeurope`,
            },
          ],
        },
      ],
    },
  });
  expect(declared.status).toBe(201);
  // `scontrol show hostnames gpu-[1-3,7]` prints one name per line, as Slurm's does.
  bin = mkdtempSync(path.join(os.tmpdir(), 'slurm-bin-'));
  writeFileSync(
    path.join(bin, 'scontrol'),
    `#!/usr/bin/env node
const list = process.argv[4] || '';
const names = [];
for (const part of list.match(/[^,\\[]+(\\[[^\\]]*\\])?/g) || []) {
  const m = /^(.*)\\[(.*)\\]$/.exec(part);
  if (!m) { names.push(part); continue; }
  for (const r of m[2].split(',')) {
    const [a, b] = r.split('-').map(Number);
    for (let i = a; i <= (b ?? a); i++) names.push(m[1] + i);
  }
}
console.log(names.join('\\n'));
`,
  );
  chmodSync(path.join(bin, 'scontrol'), 0o755);
}, 60_000);
afterAll(async () => {
  await cp?.stop();
  if (bin) rmSync(bin, { recursive: true, force: true });
});

const program = (name: string, hostlist: string, env: Record<string, string> = {}) =>
  run(path.join(root, 'scripts/slurm', name), [hostlist], {
    env: {
      PATH: `${bin}:${process.env.PATH ?? ''}`,
      FAILOVERPLANE_SLURM_ENV: '/nonexistent',
      FAILOVERPLANE_URL: cp.host.url,
      FAILOVERPLANE_KEY: cp.adminKey,
      FAILOVERPLANE_CLUSTER: 'slurm',
      FAILOVERPLANE_POOL: 'gpu',
      ...env,
    },
  });
const pool = async () =>
  (await request(`${cp.host.url}${paths.pool('slurm', 'gpu')}`, { key: cp.functionKey })).json.pool as {
    demand: number;
    placed: number;
    runningOperation: string | null;
  };

it('ResumeProgram grows the demand by the nodes Slurm names and the run places them; SuspendProgram shrinks it', async () => {
  const resumed = await program('failoverplane-resume', 'gpu-[1-3,7]');
  expect(resumed.stdout).toContain('resume 4 node(s) of slurm/gpu');
  expect(resumed.stdout).not.toContain(cp.adminKey);
  expect((await pool()).demand).toBe(4);
  await waitFor(async () => ((p) => p.placed === 4 && p.runningOperation === null)(await pool()), {
    timeoutMs: 60_000,
    intervalMs: 100,
    description: 'the 4 nodes placed',
  });
  // Two resumes at once both count: the change is applied under If-Match, not read-modify-written by the script.
  await Promise.all([
    program('failoverplane-resume', 'gpu-8'),
    program('failoverplane-resume', 'gpu-[9-10]'),
  ]);
  expect((await pool()).demand).toBe(7);
  const suspended = await program('failoverplane-suspend', 'gpu-[1-5]');
  expect(suspended.stdout).toContain('suspend 5 node(s)');
  expect((await pool()).demand).toBe(2);
  const audit = await request(`${cp.host.url}${paths.audit('slurm')}`, { key: cp.functionKey });
  expect(audit.json.entries[0]).toMatchObject({
    action: 'pool-demand-set',
    detail: { poolId: 'gpu', demand: 2, previous: 7, change: -5 },
  });
}, 90_000);

it('fails with one line and changes nothing when a setting is missing, the key is refused or the host is down', async () => {
  const before = (await pool()).demand;
  const missing = await program('failoverplane-resume', 'gpu-1', { FAILOVERPLANE_POOL: '' }).catch(
    (e: { code: number; stderr: string }) => e,
  );
  expect(missing).toMatchObject({
    code: 1,
    stderr: expect.stringContaining('FAILOVERPLANE_POOL is not set'),
  });
  const refused = await program('failoverplane-resume', 'gpu-1', { FAILOVERPLANE_KEY: 'wrong-key' }).catch(
    (e: { code: number; stderr: string }) => e,
  );
  expect(refused).toMatchObject({ code: 1, stderr: expect.stringContaining('HTTP 401') });
  expect((refused as { stderr: string }).stderr).not.toContain('wrong-key');
  const down = await program('failoverplane-suspend', 'gpu-1', {
    FAILOVERPLANE_URL: 'http://127.0.0.1:9',
  }).catch((e: { code: number; stderr: string }) => e);
  expect(down).toMatchObject({ code: 1, stderr: expect.stringContaining('did not answer') });
  expect((await pool()).demand).toBe(before);
}, 60_000);
