import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import {
  commandAckBodySchema,
  heartbeatBodySchema,
  type CommandAckBody,
  type HeartbeatBody,
} from '../../shared/contracts/agentApi';
import { paths } from '../../shared/contracts/routes';
import { waitFor } from '../helpers/waitFor';
import { assertBuilt, runAgent, startAgent, type AgentProcess } from './helpers/agentProcess';

/**
 * A failover drill's silence with the agent as a real process (bin/failover-agent.js, built) and a plain HTTP
 * stand-in for the control plane: it makes the node active under epoch 1, then repeats a `drill-silence` command in
 * every answer (as the control plane does while the drill asks), and after the silence answers standby under
 * epoch 2 (the failover the silence caused). Times are the stand-in's receive times (Date.now()).
 */

const LEASE_MS = 1200;
const SILENCE_MS = 4000;
const COMMAND = {
  id: 'drill-silence-drill-e2e',
  type: 'drill-silence',
  epoch: 1,
  silenceMs: SILENCE_MS,
  clusterId: 'bcm-head',
  nodeId: 'head-a',
};

let dir: string;
const agents: AgentProcess[] = [];
const servers: http.Server[] = [];

beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-drill-'));
  const hook = path.join(dir, 'record.sh');
  writeFileSync(hook, '#!/bin/sh\necho "$(date +%s%3N) $FP_OPERATION $FP_OPERATION_ID $FP_EPOCH" >> "$1"\n');
  chmodSync(hook, 0o755);
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill('SIGKILL')));
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const file = (name: string) => path.join(dir, name);
const hookRuns = () =>
  existsSync(file('hooks.log'))
    ? readFileSync(file('hooks.log'), 'utf8')
        .split('\n')
        .filter(Boolean)
        .map((line) => {
          const [at, operation, id, epoch] = line.split(' ');
          return { at: Number(at), operation, id, epoch: Number(epoch) };
        })
    : [];

interface Received<T> {
  at: number;
  body: T;
}

/** The control plane stand-in (see above). */
async function controlPlane() {
  const heartbeats: Received<HeartbeatBody>[] = [];
  const acks: Received<CommandAckBody>[] = [];
  let failedOver = false;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const at = Date.now();
      const json: unknown = JSON.parse(Buffer.concat(chunks).toString('utf8') || 'null');
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url === paths.agentHeartbeat()) {
        const body = heartbeatBodySchema.parse(json);
        heartbeats.push({ at, body });
        // Once the silence was acknowledged, the next heartbeat finds the failover done: standby under epoch 2.
        if (acks.some((a) => a.body.commandId === COMMAND.id)) failedOver = true;
        if (failedOver)
          return send(200, {
            role: 'standby',
            epoch: 2,
            lease: null,
            commands: [COMMAND],
            heartbeatIntervalMs: 100,
          });
        const commands =
          body.role === 'active'
            ? [COMMAND]
            : [{ id: 'promote-1', type: 'promote', epoch: 1, clusterId: 'bcm-head', nodeId: 'head-a' }];
        return send(200, {
          role: 'active',
          epoch: 1,
          lease: { durationMs: LEASE_MS },
          commands,
          heartbeatIntervalMs: 100,
        });
      }
      if (req.url === paths.agentAck()) {
        acks.push({ at, body: commandAckBodySchema.parse(json) });
        return send(200, { recorded: true, delivered: true });
      }
      send(404, { error: { code: 'NotFound', message: req.url } });
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, heartbeats, acks };
}

function config(url: string): string {
  const keyFile = file('head-a.key');
  writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const step = (name: string) => [{ name, command: [file('record.sh'), file('hooks.log')] }];
  const configPath = file('head-a.yaml');
  writeFileSync(
    configPath,
    YAML.stringify({
      cluster: 'bcm-head',
      node: 'head-a',
      controlPlane: { url, allowInsecureHttp: true },
      key: { file: keyFile },
      stateDir: file('head-a-state'),
      heartbeat: { initialIntervalMs: 100 },
      log: { level: 'debug' },
      hooks: { promote: step('up'), demote: step('down'), fence: step('off') },
    }),
  );
  return configPath;
}

function start(configPath: string): AgentProcess {
  const agent = startAgent(['--config', configPath]);
  agents.push(agent);
  return agent;
}

it('acknowledges the silence once, sends nothing for silenceMs (across a restart), self-fences, then comes back standby', async () => {
  const cp = await controlPlane();
  const configPath = config(cp.url);
  let agent = start(configPath);

  // Active, then told to go silent: acknowledged ok.
  const ack = await waitFor(() => cp.acks.find((a) => a.body.commandId === COMMAND.id), {
    timeoutMs: 20_000,
    description: `the drill-silence acknowledgement; stderr: ${agent.stderr().slice(-300)}`,
  });
  expect(ack.body).toMatchObject({ type: 'drill-silence', epoch: 1, outcome: 'ok' });
  // Every heartbeat reported the hooks configured.
  expect(cp.heartbeats[0]?.body.hooks).toEqual(['promote', 'demote', 'fence']);
  const before = cp.heartbeats.length;

  // The lease lapses unrenewed: the usual self-fence (demote, then fence) runs while the agent is silent.
  await waitFor(() => hookRuns().find((r) => r.operation === 'fence'), {
    timeoutMs: SILENCE_MS + 5000,
    description: 'the self-fence',
  });
  expect(hookRuns().map((r) => r.operation)).toEqual(['promote', 'demote', 'fence']);
  expect(hookRuns()[1]?.id).toMatch(/^self-fence-1-/);
  expect(agent.logs).toContainEqual(expect.objectContaining({ msg: 'lease lapsed: self-fencing' }));

  // `status` shows the silence.
  const shown = await runAgent(['status', '--config', configPath]);
  expect(shown.stdout).toMatch(/Drill: +silent until /);

  // Killed during the silence and started again: still silent for what is left of it, and the command (still in
  // every answer) is not run again.
  await agent.kill('SIGKILL');
  agent = start(configPath);
  const still = await agent.waitForLog(
    (r) => r.msg === 'drill: still silent after a restart',
    'the silence going on after the restart',
  );
  expect(still.leftMs).toBeGreaterThan(0);
  expect(cp.heartbeats).toHaveLength(before);

  const resumed = await waitFor(() => cp.heartbeats[before], {
    timeoutMs: SILENCE_MS + 10_000,
    description: `the first heartbeat after the silence; stderr: ${agent.stderr().slice(-300)}`,
  });
  // Nothing arrived during the silence: it was measured from before the acknowledgement was sent.
  expect(resumed.at - ack.at).toBeGreaterThanOrEqual(SILENCE_MS - 250);
  expect(resumed.body).toMatchObject({ role: 'standby', epoch: 1, demotedAtEpoch: 1 });

  // It takes the role it is answered (standby under epoch 2) and heartbeats on; the command never ran twice.
  await waitFor(() => cp.heartbeats.length >= before + 5, { description: 'heartbeats after the silence' });
  expect(cp.heartbeats.at(-1)?.body).toMatchObject({ role: 'standby', epoch: 2 });
  expect(cp.acks.filter((a) => a.body.commandId === COMMAND.id)).toHaveLength(1);
  expect(hookRuns().filter((r) => r.operation === 'promote')).toHaveLength(1);
  await agent.kill('SIGTERM');
  const state = JSON.parse(readFileSync(file('head-a-state/state.json'), 'utf8'));
  expect(state).toMatchObject({ role: 'standby', highestEpoch: 2, demotedEpoch: 1 });
  expect(state.commands.filter((c: { id: string }) => c.id === COMMAND.id)).toHaveLength(1);
});
