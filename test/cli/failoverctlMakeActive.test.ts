import { activeUnder, FAST } from '../e2e/e2eSupport';
import { startLocalStack, type LocalStack } from '../helpers/localStack';
import { runCli } from './helpers/runCli';

/**
 * `failoverctl makeactive` and `failover` as real processes against the local stack with real agents: "c" at the
 * prompt runs the switchover, one progress line per step with its duration, ending `[ OK ]`; a failed promotion ends
 * with the roll-back's reason and exit 1; a failover with a reason is followed to its end.
 */
let stack: LocalStack;
let env: Record<string, string>;

beforeAll(async () => {
  stack = await startLocalStack();
  env = { HOME: stack.dir, FAILOVERPLANE_URL: stack.url, FAILOVERPLANE_KEY: stack.cp.adminKey };
});
afterEach(async () => {
  await stack.stopAgents();
});
afterAll(async () => {
  await stack?.stop();
});

const STEP_LINE = /^ {2}\[( OK |WARN|FAIL|SKIP)\] .+ \(\d+(\.\d)? (ms|s)\)/;

it('"c" runs the plan: one progress line per step with its duration, ending [ OK ]', async () => {
  await stack.declarePair('cli-switch', { detection: FAST, failover: { rpoObjectiveMs: 5000 } });
  const a = stack.startAgent('cli-switch', 'head-a', { replicationLagMs: 0 });
  const b = stack.startAgent('cli-switch', 'head-b', { replicationLagMs: 40 });
  await activeUnder(stack, 'cli-switch', 'head-a', 1, ['head-b']);

  const r = await runCli(
    ['makeactive', 'cli-switch', 'head-b', '--reason', 'maintenance', '--interval-ms', '100'],
    {
      env,
      stdin: 'c\n',
      timeoutMs: 60_000,
    },
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines[0]).toBe('Make-active in cluster cli-switch (epoch 1 -> 2)');
  expect(r.stdout).toContain('Continue(c)/Exit(e)? \nStarted make-active-');
  const operation = (await stack.operations('cli-switch')).find((o) => o.kind === 'make-active');
  const steps = (operation.steps as { name: string }[]).map((s) => s.name);
  const progress = lines.filter((l) => STEP_LINE.test(l));
  // Every recorded step, once, in order, each with its duration.
  expect(progress.map((l) => l.slice('  [ OK ] '.length, l.lastIndexOf(' (')))).toEqual(steps);
  expect(lines[lines.length - 1]).toMatch(
    new RegExp(
      `^\\[ OK \\] make-active ${operation.operationId} succeeded: head-b is active under epoch 2 \\(RTO \\d`,
    ),
  );
  await activeUnder(stack, 'cli-switch', 'head-b', 2, ['head-a']);
  expect(a.runs('demote')).toHaveLength(1);
  expect(b.runs('promote')).toHaveLength(1);

  // ops show prints the same steps as a timeline.
  const shown = await runCli(['ops', 'show', 'cli-switch', operation.operationId], { env });
  expect(shown.code).toBe(0);
  expect(shown.stdout.split('\n')[0]).toBe(
    `Operation ${operation.operationId} (make-active) of cli-switch: SUCCEEDED`,
  );
  for (const name of steps) expect(shown.stdout).toContain(name);
});

it('a failed promotion: the progress ends with the roll-back reason, exit 1 and one line on stderr', async () => {
  await stack.declarePair('cli-rollback', { detection: FAST });
  stack.startAgent('cli-rollback', 'head-a');
  stack.startAgent('cli-rollback', 'head-b', { promoteExitCode: 1 });
  await activeUnder(stack, 'cli-rollback', 'head-a', 1, ['head-b']);

  const r = await runCli(['makeactive', 'cli-rollback', 'head-b', '--yes', '--interval-ms', '100'], {
    env,
    timeoutMs: 90_000,
  });
  expect(r.code).toBe(1);
  expect(r.stdout).not.toContain('Continue(c)');
  const lines = r.stdout.trimEnd().split('\n');
  expect(lines.some((l) => /^ {2}\[(WARN|FAIL)\] /.test(l))).toBe(true);
  expect(lines[lines.length - 1]).toMatch(
    /^\[FAIL\] make-active \S+ failed: rolled back: head-a is active again under epoch \d+/,
  );
  expect(r.stderr.trimEnd().split('\n')).toHaveLength(1);
  expect(r.stderr).toMatch(/^failoverctl: make-active \S+ failed: rolled back/);
});

it('failover --reason: followed to its end; --json prints the ended operation', async () => {
  await stack.declarePair('cli-failover', { detection: FAST });
  stack.startAgent('cli-failover', 'head-a');
  stack.startAgent('cli-failover', 'head-b');
  await activeUnder(stack, 'cli-failover', 'head-a', 1, ['head-b']);

  const r = await runCli(
    ['failover', 'cli-failover', '--reason', 'region drill', '--json', '--interval-ms', '100'],
    {
      env,
      timeoutMs: 90_000,
    },
  );
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  const { operation } = JSON.parse(r.stdout);
  expect(operation).toMatchObject({ kind: 'failover', status: 'succeeded', toEpoch: expect.any(Number) });
  await activeUnder(stack, 'cli-failover', 'head-b', operation.toEpoch, []);
  // In text: the progress lines, then who is active now.
  await stack.until(
    'head-b heartbeating as the active',
    () => stack.status('cli-failover'),
    (s) =>
      s.nodes.some(
        (n: { nodeId: string; reportedRole: string }) => n.nodeId === 'head-b' && n.reportedRole === 'active',
      ),
  );
  const back = await runCli(['failover', 'cli-failover', '--reason', 'and back', '--interval-ms', '100'], {
    env,
    timeoutMs: 90_000,
  });
  expect(back.stderr).toBe('');
  expect(back.code).toBe(0);
  expect(back.stdout.split('\n')[0]).toMatch(/^Started failover-/);
  expect(back.stdout.trimEnd().split('\n').pop()).toMatch(
    /^\[ OK \] failover \S+ succeeded: head-a is active under epoch \d+/,
  );
  const audit = await runCli(['audit', 'cli-failover', '--json'], { env });
  expect(JSON.stringify(JSON.parse(audit.stdout).entries)).toContain('region drill');
});
