import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { HookStep, HooksConfig } from '../../agent/config';
import { ConfiguredHooks, type HookContext } from '../../agent/hooks';
import { waitFor } from '../helpers/waitFor';
import { memoryLogger } from './helpers/fakes';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-hooks-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const step = (script: string, extra: Partial<HookStep> = {}): HookStep => ({
  command: ['sh', '-c', script],
  timeoutMs: 5000,
  retries: 0,
  retryDelayMs: 0,
  ...extra,
});

const none: HooksConfig = {
  prePromote: [],
  promote: [],
  postPromote: [],
  preDemote: [],
  demote: [],
  postDemote: [],
  preFence: [],
  fence: [],
  postFence: [],
  fencePeer: [],
};

const context = (operation: HookContext['operation'], extra: Partial<HookContext> = {}): HookContext => ({
  operation,
  operationId: `${operation}-7`,
  epoch: 7,
  role: operation === 'promote' ? 'active' : 'standby',
  reason: 'command from the control plane',
  ...extra,
});

const hooks = (config: Partial<HooksConfig>) =>
  new ConfiguredHooks(
    { ...none, ...config },
    { clusterId: 'bcm-head', nodeId: 'head-a' },
    memoryLogger().log,
  );

const order = () => readFileSync(path.join(dir, 'order'), 'utf8').trim().split('\n');

describe('ConfiguredHooks', () => {
  it('gives each step the operation in its environment', async () => {
    const result = await hooks({
      promote: [
        step('echo "$FP_EPOCH $FP_ROLE $FP_CLUSTER $FP_NODE $FP_OPERATION_ID $FP_OPERATION $FP_STEP $SITE"', {
          env: { SITE: 'westeurope' },
        }),
      ],
    }).run(context('promote'));
    expect(result).toMatchObject({ operation: 'promote', operationId: 'promote-7', epoch: 7, status: 'ok' });
    expect(result.steps).toEqual([
      expect.objectContaining({
        phase: 'main',
        name: 'promote-1',
        status: 'ok',
        end: 'exit 0',
        attempts: 1,
        stdout: '7 active bcm-head head-a promote-7 promote promote-1 westeurope\n',
      }),
    ]);
    expect(result.detail).toMatch(/^promote-7: 1 step ok in \d+ ms$/);
  });

  it('runs pre steps, the steps, then post steps, in order', async () => {
    const log = (name: string) => step(`echo ${name} >> ${dir}/order`, { name });
    await hooks({
      prePromote: [log('stop-stale')],
      promote: [log('connect-gpu'), log('assign-dda'), log('start-vm')],
      postPromote: [log('notify')],
    }).run(context('promote'));
    expect(order()).toEqual(['stop-stale', 'connect-gpu', 'assign-dda', 'start-vm', 'notify']);
  });

  it('stops a promotion at the first failing step (pre or main) and reports it', async () => {
    const log = (name: string, code = 0) =>
      step(`echo ${name} >> ${dir}/order; echo "${name} said no" >&2; exit ${code}`, { name });
    const result = await hooks({
      prePromote: [log('check')],
      promote: [log('connect-gpu'), log('assign-dda', 4), log('start-vm')],
      postPromote: [log('notify')],
    }).run(context('promote'));
    expect(order()).toEqual(['check', 'connect-gpu', 'assign-dda']);
    expect(result.status).toBe('fail');
    expect(result.detail).toBe('promote-7: main step assign-dda failed (exit 4): assign-dda said no');
  });

  it('runs every demote step whatever fails before; a failing pre or post step only warns', async () => {
    const log = (name: string, code = 0) => step(`echo ${name} >> ${dir}/order; exit ${code}`, { name });
    const warned = await hooks({
      preDemote: [log('drain', 1)],
      demote: [log('stop-services')],
      postDemote: [log('notify', 1)],
    }).run(context('demote'));
    expect(warned.status).toBe('warn');
    const failed = await hooks({ demote: [log('stop-a', 2), log('stop-b')] }).run(context('demote'));
    expect(failed.status).toBe('fail');
    expect(order()).toEqual(['drain', 'stop-services', 'notify', 'stop-a', 'stop-b']);
  });

  it('retries a failing step, then succeeds', async () => {
    const result = await hooks({
      fence: [
        step(`n=$(cat ${dir}/n 2>/dev/null || echo 0); echo $((n+1)) > ${dir}/n; [ $n -ge 2 ]`, {
          retries: 3,
        }),
      ],
    }).run(context('fence'));
    expect(result.status).toBe('ok');
    expect(result.steps[0]?.attempts).toBe(3);
  });

  it('kills a step that runs past its timeout, with what it started, and fails it after its retries', async () => {
    const result = await hooks({
      demote: [step(`sleep 30 & echo $! > ${dir}/child; wait`, { timeoutMs: 300, retries: 1 })],
    }).run(context('demote'));
    expect(result.status).toBe('fail');
    expect(result.steps[0]).toMatchObject({ end: 'timed out after 300 ms', attempts: 2 });
    // The background child was in the step's process group: it is gone too (or a zombie waiting to be reaped).
    const child = Number(readFileSync(path.join(dir, 'child'), 'utf8'));
    await waitFor(
      () =>
        !existsSync(`/proc/${child}`) || /^\d+ \(.*\) Z/.test(readFileSync(`/proc/${child}/stat`, 'utf8')),
      {
        description: `process ${child} to end`,
      },
    );
  });

  it('keeps at most 8 KiB of each stream: the start and the end', async () => {
    const result = await hooks({
      promote: [step('echo FIRST; head -c 100000 /dev/zero | tr "\\0" x; echo; echo LAST; echo ERR >&2')],
    }).run(context('promote'));
    const out = result.steps[0]?.stdout ?? '';
    expect(Buffer.byteLength(out)).toBeLessThan(8 * 1024 + 100);
    expect(out.startsWith('FIRST\n')).toBe(true);
    expect(out.trimEnd().endsWith('LAST')).toBe(true);
    expect(out).toMatch(/…\[\d+ bytes left out\]…/);
    expect(result.steps[0]?.stderr).toBe('ERR\n');
  });

  it('says so when no hook is configured', async () => {
    expect(await hooks({}).run(context('fence'))).toMatchObject({
      status: 'ok',
      detail: 'fence-7: no fence hook configured',
      steps: [],
    });
  });

  it('stops at once when aborted, killing the running step', async () => {
    const abort = new AbortController();
    const { log, records } = memoryLogger();
    const runner = new ConfiguredHooks(
      { ...none, promote: [step('sleep 30'), step(`touch ${dir}/second`)] },
      { clusterId: 'bcm-head', nodeId: 'head-a' },
      log,
    );
    const running = runner.run(context('promote'), abort.signal);
    await waitFor(() => records.some((r) => r.msg === 'hook step started'), {
      description: 'the step to start',
    });
    abort.abort(new Error('the lease lapsed'));
    const result = await running;
    expect(result).toMatchObject({ status: 'fail', detail: 'promote-7: aborted (the lease lapsed)' });
    expect(result.steps).toHaveLength(1);
  });

  describe('fence-peer', () => {
    const peerContext = (target: string): HookContext => ({
      operation: 'fence-peer',
      operationId: `fence-peer-${target}-7`,
      epoch: 7,
      reason: 'fence-peer command from the control plane',
      targetNodeId: target,
    });
    const fencer = (fencePeer: HookStep[]) =>
      new ConfiguredHooks(
        { ...none, fencePeer },
        { clusterId: 'bcm-head', nodeId: 'head-c' },
        memoryLogger().log,
        {
          peers: {
            'head-a': { bmc: { address: '10.0.0.11', user: 'fencer', passwordFile: '/etc/fp/head-a.bmc' } },
            'head-b': {},
          },
        },
      );
    const printEnv =
      'echo "$FP_OPERATION $FP_OPERATION_ID $FP_EPOCH $FP_CLUSTER $FP_NODE $FP_TARGET_NODE ' +
      'bmc=${FP_BMC_ADDRESS-unset},${FP_BMC_USER-unset},${FP_BMC_PASSWORD_FILE-unset} role=${FP_ROLE-unset}"';

    // The agent's own environment must not leak into a fence-peer as if it were the peer's BMC or a role.
    const inherited = ['FP_ROLE', 'FP_BMC_ADDRESS', 'FP_BMC_PASSWORD_FILE'] as const;
    beforeEach(() => inherited.forEach((name) => (process.env[name] = `from-the-agent-${name}`)));
    afterEach(() => inherited.forEach((name) => delete process.env[name]));

    it('gives the steps the target and its BMC (the password as a file path), and no role', async () => {
      const result = await fencer([step(printEnv)]).run(peerContext('head-a'));
      expect(result).toMatchObject({ operation: 'fence-peer', status: 'ok' });
      expect(result.steps).toEqual([
        expect.objectContaining({
          phase: 'main',
          name: 'fence-peer-1',
          stdout:
            'fence-peer fence-peer-head-a-7 7 bcm-head head-c head-a ' +
            'bmc=10.0.0.11,fencer,/etc/fp/head-a.bmc role=unset\n',
        }),
      ]);
    });

    it('sets no BMC variables for a peer without a BMC', async () => {
      const result = await fencer([step(printEnv)]).run(peerContext('head-b'));
      expect(result.steps[0]?.stdout).toBe(
        'fence-peer fence-peer-head-b-7 7 bcm-head head-c head-b bmc=unset,unset,unset role=unset\n',
      );
    });

    it('stops at the first failing step and fails (never warn)', async () => {
      const result = await fencer([
        step(`echo off-1 >> ${dir}/order; echo "BMC not answering" >&2; exit 2`, { name: 'power-off' }),
        step(`echo verify >> ${dir}/order`, { name: 'verify' }),
      ]).run(peerContext('head-a'));
      expect(result).toMatchObject({ status: 'fail' });
      expect(result.detail).toMatch(
        /^fence-peer-head-a-7: main step power-off failed \(exit 2\): BMC not answering$/,
      );
      expect(result.steps.map((s) => [s.name, s.exitCode])).toEqual([['power-off', 2]]);
      expect(order()).toEqual(['off-1']);
    });
  });

  it('reports a program that does not exist', async () => {
    const result = await hooks({
      demote: [{ ...step(''), command: ['/nonexistent/cmha', 'makepassive'] }],
    }).run(context('demote'));
    expect(result.steps[0]).toMatchObject({
      status: 'fail',
      end: expect.stringMatching(/^could not start: .*ENOENT/),
    });
    writeFileSync(path.join(dir, 'order'), '');
  });
});
