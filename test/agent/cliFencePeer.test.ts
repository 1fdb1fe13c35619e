import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { ConfiguredHooks } from '../../agent/hooks';
import type { HooksConfig } from '../../agent/config';
import { commandAckBodySchema, type CommandAckBody } from '../../shared/contracts/agentApi';
import { paths } from '../../shared/contracts/routes';
import { waitFor } from '../helpers/waitFor';
import { memoryLogger } from './helpers/fakes';
import { assertBuilt, startAgent, type AgentProcess } from './helpers/agentProcess';

/**
 * The fencer's side of a failover as a real process: the built agent, a control plane (a plain HTTP stand-in that
 * repeats a fence-peer command in every heartbeat answer, as the control plane does until the epoch is fenced), and
 * the example hook `agent/examples/hooks/fence-peer-ipmi.sh` driving a fake `ipmitool` that checks the BMC password
 * it is given as a file.
 */

const SCRIPT = path.resolve(__dirname, '../../agent/examples/hooks/fence-peer-ipmi.sh');
const PASSWORD = `bmc-${randomBytes(9).toString('hex')}`;

let dir: string;
const agents: AgentProcess[] = [];
const servers: http.Server[] = [];

beforeAll(() => {
  assertBuilt();
  dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-fence-peer-'));
  writeFileSync(path.join(dir, 'head-a.bmc'), `${PASSWORD}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'wrong.bmc'), 'not-the-password\n', { mode: 0o600 });
});

afterAll(async () => {
  await Promise.all(agents.map((a) => a.kill('SIGKILL')));
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

const file = (name: string) => path.join(dir, name);
const lines = (name: string) =>
  existsSync(file(name)) ? readFileSync(file(name), 'utf8').split('\n').filter(Boolean) : [];

/**
 * A fake `ipmitool`: records its arguments, refuses a wrong password (read from `-f`), and powers off for good
 * (`off: 'never'`: the chassis stays on).
 */
function fakeIpmitool(name: string, options: { off: 'at-once' | 'never' }): string {
  const tool = file(name);
  writeFileSync(
    tool,
    [
      '#!/bin/sh',
      `echo "$*" >> ${file(`${name}.calls`)}`,
      'pw=""',
      'while [ $# -gt 0 ]; do case "$1" in -f) pw=$(cat "$2"); shift 2;; -I|-H|-U) shift 2;; *) break;; esac; done',
      `[ "$pw" = "${PASSWORD}" ] || { echo "Error: Unable to establish IPMI v2 / RMCP+ session" >&2; exit 1; }`,
      'case "$*" in',
      `  "chassis power off") ${options.off === 'at-once' ? `touch ${file(`${name}.off`)}; ` : ''}echo "Chassis Power Control: Down/Off";;`,
      `  "chassis power status") if [ -f ${file(`${name}.off`)} ]; then echo "Chassis Power is off"; else echo "Chassis Power is on"; fi;;`,
      '  *) echo "unexpected: $*" >&2; exit 1;;',
      'esac',
      '',
    ].join('\n'),
  );
  chmodSync(tool, 0o755);
  return tool;
}

/** Answers every heartbeat with the fence-peer command and records the acknowledgements. */
async function controlPlane(command: Record<string, unknown>) {
  const acks: CommandAckBody[] = [];
  let heartbeats = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const send = (status: number, body: unknown) => {
        res.writeHead(status, { 'content-type': 'application/json' });
        res.end(JSON.stringify(body));
      };
      if (req.url === paths.agentHeartbeat()) {
        heartbeats++;
        send(200, { role: 'standby', epoch: 4, lease: null, commands: [command], heartbeatIntervalMs: 100 });
      } else if (req.url === paths.agentAck()) {
        acks.push(commandAckBodySchema.parse(JSON.parse(Buffer.concat(chunks).toString('utf8'))));
        send(200, { recorded: true, delivered: true });
      } else send(404, { error: { code: 'NotFound', message: req.url } });
    });
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    acks,
    heartbeats: () => heartbeats,
  };
}

function config(name: string, url: string, ipmitool: string): string {
  const keyFile = file(`${name}.key`);
  writeFileSync(keyFile, `${randomBytes(32).toString('base64')}\n`, { mode: 0o600 });
  const configPath = file(`${name}.yaml`);
  writeFileSync(
    configPath,
    YAML.stringify({
      cluster: 'bcm-head',
      node: 'head-b',
      controlPlane: { url, allowInsecureHttp: true },
      key: { file: keyFile },
      stateDir: file(`${name}-state`),
      heartbeat: { initialIntervalMs: 100 },
      log: { level: 'debug' },
      hooks: {
        fencePeer: {
          name: 'ipmi-power-off',
          command: [SCRIPT],
          env: { IPMITOOL: ipmitool, FENCE_TIMEOUT_S: '5', FENCE_POLL_S: '0.1' },
          timeoutMs: 20_000,
        },
      },
      peers: { 'head-a': { bmc: { address: '10.0.0.11', user: 'fencer', passwordFile: 'head-a.bmc' } } },
    }),
  );
  return configPath;
}

it('powers the peer off through its BMC once, acknowledges ok, and never logs the BMC password', async () => {
  const command = {
    id: 'fence-peer-head-a-4',
    type: 'fence-peer',
    epoch: 4,
    clusterId: 'bcm-head',
    nodeId: 'head-b',
    targetNodeId: 'head-a',
  };
  const cp = await controlPlane(command);
  const ipmitool = fakeIpmitool('ipmitool', { off: 'at-once' });
  const agent = startAgent(['--config', config('fencer', cp.url, ipmitool)]);
  agents.push(agent);

  const [ack] = await waitFor(() => (cp.acks.length > 0 ? cp.acks : undefined), {
    timeoutMs: 20_000,
    description: `the fence-peer acknowledgement; stderr: ${agent.stderr().slice(-300)}`,
  });
  expect(ack).toMatchObject({
    commandId: 'fence-peer-head-a-4',
    type: 'fence-peer',
    epoch: 4,
    outcome: 'ok',
    steps: [{ name: 'ipmi-power-off', exitCode: 0 }],
  });
  expect(ack?.steps[0]?.outputTail).toContain('head-a: Chassis Power is off');
  // The command stays in every answer: the hook ran once all the same.
  const seen = cp.heartbeats();
  await waitFor(() => cp.heartbeats() >= seen + 5, { description: 'five more heartbeats' });
  expect(lines('ipmitool.calls')).toEqual([
    `-I lanplus -H 10.0.0.11 -U fencer -f ${file('head-a.bmc')} chassis power off`,
    `-I lanplus -H 10.0.0.11 -U fencer -f ${file('head-a.bmc')} chassis power status`,
  ]);
  expect(cp.acks).toHaveLength(1);
  await agent.kill('SIGTERM');

  // Its role did not change, and the password is nowhere: not in the logs, the state, the status, the ack.
  const state = readFileSync(file('fencer-state/state.json'), 'utf8');
  const status = readFileSync(file('fencer-state/status.json'), 'utf8');
  expect(JSON.parse(state)).toMatchObject({ role: 'standby', highestEpoch: 4, demotedEpoch: 0, reports: {} });
  expect(JSON.parse(status).hooks['fence-peer']).toMatchObject({
    status: 'ok',
    operationId: 'fence-peer-head-a-4',
  });
  expect(agent.logs).toContainEqual(
    expect.objectContaining({ msg: 'fence-peer finished', status: 'ok', operationId: 'fence-peer-head-a-4' }),
  );
  for (const text of [agent.stdout(), agent.stderr(), state, status, JSON.stringify(cp.acks)])
    expect(text).not.toContain(PASSWORD);
});

describe('the example IPMI hook (examples/hooks/fence-peer-ipmi.sh)', () => {
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
  const run = (ipmitool: string, passwordFile = file('head-a.bmc')) => {
    const hooks: HooksConfig = {
      ...none,
      fencePeer: [
        {
          name: 'ipmi-power-off',
          command: [SCRIPT],
          env: { IPMITOOL: ipmitool, FENCE_TIMEOUT_S: '1', FENCE_POLL_S: '0.1' },
          timeoutMs: 20_000,
          retries: 0,
          retryDelayMs: 0,
        },
      ],
    };
    return new ConfiguredHooks(hooks, { clusterId: 'bcm-head', nodeId: 'head-b' }, memoryLogger().log, {
      peers: { 'head-a': { bmc: { address: '10.0.0.11', user: 'fencer', passwordFile } } },
    }).run({
      operation: 'fence-peer',
      operationId: 'fence-peer-head-a-4',
      epoch: 4,
      reason: 'test',
      targetNodeId: 'head-a',
    });
  };

  it('fails (exit 1) when the peer is not off within its timeout', async () => {
    const result = await run(fakeIpmitool('stuck-ipmitool', { off: 'never' }));
    expect(result).toMatchObject({ status: 'fail' });
    expect(result.steps[0]).toMatchObject({ exitCode: 1 });
    expect(result.steps[0]?.stderr).toContain(
      'head-a is not off 1s after the power-off: Chassis Power is on',
    );
    expect(lines('stuck-ipmitool.calls').length).toBeGreaterThan(2);
  });

  it('fails (exit 2) when the BMC refuses the power-off, e.g. a wrong password', async () => {
    const result = await run(fakeIpmitool('refusing-ipmitool', { off: 'at-once' }), file('wrong.bmc'));
    expect(result.steps[0]).toMatchObject({ exitCode: 2 });
    expect(result.steps[0]?.stderr).toContain(
      "the BMC 10.0.0.11 refused or did not answer 'chassis power off'",
    );
  });

  it('fails at once for a peer without a BMC configured', async () => {
    const result = await new ConfiguredHooks(
      {
        ...({} as HooksConfig),
        fencePeer: [{ command: [SCRIPT], timeoutMs: 5000, retries: 0, retryDelayMs: 0 }],
      },
      { clusterId: 'bcm-head', nodeId: 'head-b' },
      memoryLogger().log,
    ).run({
      operation: 'fence-peer',
      operationId: 'fence-peer-head-c-4',
      epoch: 4,
      reason: 'test',
      targetNodeId: 'head-c',
    });
    expect(result.status).toBe('fail');
    expect(result.steps[0]?.stderr).toContain('no peers.head-c.bmc.address in the agent configuration');
  });
});
