import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { Agent, settingsFromConfig, type AgentSettings, type AgentStatus } from '../../agent/agent';
import { parseConfig, type AgentConfig } from '../../agent/config';
import { initialState, MemoryStateStore, StateKeeper } from '../../agent/state';
import {
  FakeChecks,
  FakeControlPlane,
  FakeHooks,
  grant,
  memoryLogger,
  promote,
  reply,
} from './helpers/fakes';
import { ManualClock } from './helpers/manualClock';

/**
 * A failover drill's `drill-silence` command: acknowledged, then no heartbeat (nor arbitration request) for silenceMs
 * on the monotonic clock; the lease lapses and the node self-fences through the usual path; then it heartbeats
 * again and takes the role it is answered. And the hooks the agent reports in every heartbeat.
 */

const settings: AgentSettings = {
  clusterId: 'bcm-head',
  nodeId: 'head-a',
  initialIntervalMs: 1000,
  jitterRatio: 0,
  maxBackoffMs: 30_000,
  fenceMarginMs: 0,
  shutdownTimeoutMs: 5000,
  demoteOnShutdown: true,
  hooks: ['promote', 'demote', 'fence'],
};

async function setup(options: { settings?: Partial<AgentSettings>; clock?: ManualClock } = {}) {
  const clock = options.clock ?? new ManualClock();
  const store = new MemoryStateStore();
  store.state = initialState('bcm-head', 'head-a');
  const controlPlane = new FakeControlPlane(clock);
  const hooks = new FakeHooks();
  const checks = new FakeChecks();
  const { log, records } = memoryLogger();
  const statuses: AgentStatus[] = [];
  const open = async (c: ManualClock = clock) =>
    new Agent({
      settings: { ...settings, ...options.settings },
      client: controlPlane,
      checks,
      hooks,
      state: await StateKeeper.open(store, 'bcm-head', 'head-a'),
      writeStatus: (s) => {
        statuses.push(structuredClone(s));
        return Promise.resolve();
      },
      clock: c,
      log,
      random: () => 0.5,
    });
  const agent = await open();
  return { clock, store, controlPlane, hooks, checks, records, statuses, agent, open };
}

type Setup = Awaited<ReturnType<typeof setup>>;

const silence = (epoch: number, silenceMs: number, drillId = 'drill-abc') => ({
  id: `drill-silence-${drillId}`,
  type: 'drill-silence',
  epoch,
  silenceMs,
  clusterId: 'bcm-head',
  nodeId: 'head-a',
});

async function makeActive(t: Setup, epoch = 1, leaseMs = 4000) {
  t.controlPlane.answer(grant(epoch, leaseMs, [promote(epoch)]));
  await t.agent.heartbeatOnce();
  await t.agent.idle();
  expect(t.agent.role).toBe('active');
}

describe('hooks reporting', () => {
  let dir: string;
  beforeAll(() => {
    dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-hooks-'));
    writeFileSync(path.join(dir, 'node.key'), `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  const configWith = (hooks: Record<string, unknown>): AgentConfig => {
    const loaded = parseConfig(
      YAML.stringify({
        cluster: 'bcm-head',
        node: 'head-a',
        controlPlane: { url: 'https://failover-plane.example.net' },
        key: { file: 'node.key' },
        stateDir: 'state',
        hooks,
      }),
      path.join(dir, 'agent.yaml'),
    );
    if (!loaded.ok) throw new Error(loaded.errors.join('; '));
    return loaded.config;
  };

  it('sends the operations with at least one configured step in every heartbeat', async () => {
    const config = configWith({
      postPromote: [{ name: 'notify', command: ['/bin/true'] }],
      demote: [{ name: 'stop', command: ['/bin/true'] }],
      fencePeer: [{ name: 'ipmi', command: ['/bin/true'] }],
    });
    expect(settingsFromConfig(config).hooks).toEqual(['promote', 'demote', 'fence-peer']);
    const t = await setup({ settings: { hooks: settingsFromConfig(config).hooks } });
    t.controlPlane.answer(reply(), reply());
    await t.agent.heartbeatOnce();
    await t.agent.heartbeatOnce();
    expect(t.controlPlane.heartbeats.map((h) => h.hooks)).toEqual([
      ['promote', 'demote', 'fence-peer'],
      ['promote', 'demote', 'fence-peer'],
    ]);
  });

  it('reports an empty list when no hook is configured', () => {
    expect(settingsFromConfig(configWith({})).hooks).toEqual([]);
  });
});

describe('drill-silence', () => {
  it('acknowledges, sends nothing for silenceMs, self-fences when the lease lapses, then heartbeats again', async () => {
    const t = await setup();
    await makeActive(t, 1, 4000);
    t.controlPlane.answer(grant(1, 4000, [silence(1, 10_000)]));
    expect(await t.agent.heartbeatOnce()).toBe(true);
    await t.agent.idle();
    const sent = t.controlPlane.heartbeats.length;
    expect(t.controlPlane.acks.map((a) => [a.commandId, a.type, a.epoch, a.outcome])).toEqual([
      ['promote-1', 'promote', 1, 'ok'],
      ['drill-silence-drill-abc', 'drill-silence', 1, 'ok'],
    ]);
    expect(t.store.state?.commands).toContainEqual(
      expect.objectContaining({ id: 'drill-silence-drill-abc', type: 'drill-silence', status: 'ok' }),
    );
    expect(t.agent.silentForMs).toBe(10_000);
    expect(t.statuses.at(-1)?.drill).toMatchObject({ commandId: 'drill-silence-drill-abc', epoch: 1 });

    // Silent: nothing is sent, though the heartbeat is attempted every interval.
    t.clock.advance(3999);
    expect(await t.agent.heartbeatOnce()).toBe(false);
    await t.agent.idle();
    expect(t.agent.role).toBe('active');
    t.clock.advance(1); // the lease (granted 4 s ago) lapses: the usual self-fence
    await t.agent.idle();
    expect(t.hooks.operations).toEqual([
      'promote:promote-1',
      expect.stringMatching(/^demote:self-fence-1-/),
      expect.stringMatching(/^fence:self-fence-1-/),
    ]);
    expect(t.agent.role).toBe('standby');
    expect(t.records).toContainEqual(expect.objectContaining({ msg: 'lease lapsed: self-fencing' }));
    t.clock.advance(5999);
    expect(await t.agent.heartbeatOnce()).toBe(false);
    expect(t.controlPlane.heartbeats).toHaveLength(sent);

    // Over: it heartbeats again as a standby that demoted itself under epoch 1, and takes what it is answered.
    t.clock.advance(1);
    t.controlPlane.answer(reply({ epoch: 2 }));
    expect(await t.agent.heartbeatOnce()).toBe(true);
    expect(t.controlPlane.heartbeats.at(-1)).toMatchObject({ role: 'standby', epoch: 1, demotedAtEpoch: 1 });
    expect(t.agent.role).toBe('standby');
    expect(t.store.state?.highestEpoch).toBe(2);
    expect(t.records).toContainEqual(
      expect.objectContaining({ msg: 'drill: silence over, heartbeating again' }),
    );
  });

  it('an agent still active when the silence ends (a silence shorter than its lease) demotes when answered standby', async () => {
    const t = await setup();
    await makeActive(t, 1, 10_000);
    t.controlPlane.answer(grant(1, 10_000, [silence(1, 2000)]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.controlPlane.acks.at(-1)).toMatchObject({ type: 'drill-silence', outcome: 'ok' });
    t.clock.advance(1999);
    expect(await t.agent.heartbeatOnce()).toBe(false); // silent: nothing sent
    t.clock.advance(1);
    expect(t.agent.role).toBe('active');
    t.controlPlane.answer(reply({ epoch: 2 }));
    expect(await t.agent.heartbeatOnce()).toBe(true);
    await t.agent.idle();
    expect(t.agent.role).toBe('standby');
    expect(t.hooks.operations).toEqual(['promote:promote-1', expect.stringMatching(/^demote:standby-2-/)]);
  });

  it('the heartbeat loop waits the silence out on the monotonic clock, and a restart neither repeats nor ends it', async () => {
    const t = await setup();
    await makeActive(t, 1, 4000);
    t.controlPlane.answer(grant(1, 4000, [silence(1, 6000)]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    const sent = t.controlPlane.heartbeats.length;
    t.clock.advance(1000);
    // The agent dies 1 s into the silence; a new process (same state) starts 1 s later.
    const restarted = await t.open();
    t.clock.advance(1000);
    t.controlPlane.defaultAnswer = { status: 200, json: grant(1, 4000, [silence(1, 6000)]) };
    await restarted.start();
    await restarted.idle();
    // It demoted and fenced at the start (it was active), and is silent for the 4 s left.
    expect(restarted.role).toBe('standby');
    expect(restarted.silentForMs).toBe(4000);
    for (let i = 0; i < 39; i++) {
      t.clock.advance(100);
      await new Promise((resolve) => setImmediate(resolve));
    }
    expect(t.controlPlane.heartbeats).toHaveLength(sent);
    t.clock.advance(100);
    for (let i = 0; i < 5 && t.controlPlane.heartbeats.length === sent; i++)
      await new Promise((resolve) => setImmediate(resolve));
    expect(t.controlPlane.heartbeats.length).toBeGreaterThan(sent);
    await restarted.idle();
    await restarted.stop('test');
    // The command came again in every answer: acknowledged once, never run twice.
    expect(t.controlPlane.acks.filter((a) => a.commandId === 'drill-silence-drill-abc')).toHaveLength(1);
    expect(t.store.state?.commands.filter((c) => c.id === 'drill-silence-drill-abc')).toHaveLength(1);
  });

  it('waits while it is still promoting under the epoch: the repeated command is taken once it is active', async () => {
    const t = await setup();
    t.hooks.hold.add('promote');
    t.controlPlane.answer(grant(1, 4000, [promote(1)]), grant(1, 4000, [silence(1, 5000)]));
    await t.agent.heartbeatOnce();
    await t.agent.heartbeatOnce(); // promoting: neither run nor refused
    expect(t.agent.silentForMs).toBe(0);
    expect(t.store.state?.commands.map((c) => c.id)).toEqual(['promote-1']);
    t.hooks.pending[0]?.finish();
    await t.agent.idle();
    t.controlPlane.answer(grant(1, 4000, [silence(1, 5000)]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.agent.silentForMs).toBe(5000);
    expect(t.controlPlane.acks.map((a) => [a.commandId, a.outcome])).toEqual([
      ['promote-1', 'ok'],
      ['drill-silence-drill-abc', 'ok'],
    ]);
  });

  it('sends no arbitration request while silent', async () => {
    const t = await setup({
      settings: { arbitration: { peerCheck: 'peer', failForMs: 0, pollTimeoutMs: 5000 } },
    });
    await makeActive(t, 1, 2000);
    t.controlPlane.answer(grant(1, 2000, [silence(1, 8000)]));
    await t.agent.heartbeatOnce();
    t.clock.advance(3000); // lease lapsed, self-fenced
    await t.agent.idle();
    expect(await t.agent.arbitrate()).toBeUndefined();
    t.checks.round = { checks: [{ name: 'peer', status: 'fail', detail: 'unreachable', durationMs: 1 }] };
    await t.agent.runChecks();
    await t.agent.idle();
    expect(t.controlPlane.arbitrations).toEqual([]);
  });

  it('refuses (acknowledged failed) a silence for an older epoch, for a standby, or longer than 10 minutes', async () => {
    const t = await setup();
    t.controlPlane.answer(reply({ epoch: 1, commands: [silence(1, 5000, 'standby')] }));
    await t.agent.heartbeatOnce();
    await makeActive(t, 2, 4000);
    t.controlPlane.answer(grant(2, 4000, [silence(1, 5000, 'old'), silence(2, 600_001, 'long')]));
    await t.agent.heartbeatOnce();
    await t.agent.idle();
    expect(t.agent.silentForMs).toBe(0);
    const acks = t.controlPlane.acks.filter((a) => a.type === 'drill-silence');
    expect(acks.map((a) => [a.commandId, a.outcome])).toEqual([
      ['drill-silence-standby', 'failed'],
      ['drill-silence-old', 'failed'],
      ['drill-silence-long', 'failed'],
    ]);
    expect(acks[0]?.message).toMatch(/not the active/);
    expect(acks[1]?.message).toMatch(/epoch 1 is below/);
    expect(acks[2]?.message).toMatch(/longer than the 600000 ms/);
    // Still heartbeating, still active.
    t.controlPlane.answer(grant(2, 4000));
    expect(await t.agent.heartbeatOnce()).toBe(true);
    expect(t.agent.role).toBe('active');
  });
});
