import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import YAML from 'yaml';
import { loadConfig, NVIDIA_SMI_QUERY, parseConfig } from '../../agent/config';

let dir: string;
const key = randomBytes(32).toString('base64');

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-config-'));
  writeFileSync(path.join(dir, 'node.key'), `${key}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'ca.pem'), '-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n');
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const configFile = () => path.join(dir, 'agent.yaml');
const parse = (text: string) => parseConfig(text, configFile());

const minimal = `
cluster: bcm-head
node: head-a
controlPlane:
  url: https://failover-plane.example.net
key:
  file: node.key
stateDir: state
`;

describe('parseConfig', () => {
  it('accepts a minimal file, fills in the defaults and resolves paths against the file', () => {
    const loaded = parse(minimal);
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    const { config } = loaded;
    expect(loaded.key.equals(Buffer.from(key, 'base64'))).toBe(true);
    expect(config).toMatchObject({
      clusterId: 'bcm-head',
      nodeId: 'head-a',
      stateDir: path.join(dir, 'state'),
      key: { file: path.join(dir, 'node.key'), version: 1 },
      heartbeat: { initialIntervalMs: 1000, jitterRatio: 0.1, maxBackoffMs: 30_000 },
      lease: { fenceMarginMs: 1000 },
      checks: [],
      shutdown: { timeoutMs: 30_000, demoteIfActive: true },
      log: { level: 'info' },
    });
    expect(config.controlPlane).toMatchObject({
      pins: [],
      requestTimeoutMs: 5000,
      arbitrateTimeoutMs: 15_000,
      firstContactTimeoutMs: 60_000,
    });
    expect(config.controlPlane.url.href).toBe('https://failover-plane.example.net/');
    expect(config.hooks.promote).toEqual([]);
    // The key is returned beside the configuration, never inside it.
    expect(JSON.stringify(config)).not.toContain(key);
  });

  it('reads every kind of check, hook steps (a single step or a list), pins and the CA bundle', () => {
    const loaded = parse(
      YAML.stringify({
        cluster: 'bcm-head',
        node: 'head-a',
        controlPlane: {
          url: 'https://fp.example.net/base',
          caFile: 'ca.pem',
          pinnedSha256: `AB:${'CD:'.repeat(30)}EF`,
        },
        key: { file: 'node.key', version: 2 },
        stateDir: '/var/lib/failover-agent',
        checks: [
          { name: 'failoverping', type: 'tcp', host: 'head-b', port: 22 },
          { name: 'database', type: 'command', command: ['/usr/bin/mysqladmin', 'ping'], timeoutMs: 3000 },
          { name: 'status', type: 'http', url: 'http://127.0.0.1:8080/healthz', expectStatus: [200, 204] },
          { type: 'gpu' },
        ],
        hooks: {
          promote: { command: ['/usr/bin/cmha', 'makeactive'], timeoutMs: 120_000, retries: 2 },
          postPromote: [
            { name: 'notify', command: ['/usr/local/bin/notify', 'promoted'], env: { CHANNEL: 'ops' } },
          ],
        },
        arbitration: { peerCheck: 'failoverping', failForMs: 5000 },
      }),
    );
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    const { config } = loaded;
    expect(config.key.version).toBe(2);
    expect(config.stateDir).toBe('/var/lib/failover-agent');
    expect(config.controlPlane.url.pathname).toBe('/base/');
    expect(config.controlPlane.pins).toEqual([`ab${'cd'.repeat(30)}ef`]);
    expect(config.controlPlane.ca?.toString()).toContain('BEGIN CERTIFICATE');
    expect(config.checks.map((c) => c.name)).toEqual(['failoverping', 'database', 'status', 'gpu']);
    expect(config.checks[3]).toEqual({
      type: 'gpu',
      name: 'gpu',
      command: NVIDIA_SMI_QUERY,
      timeoutMs: 10_000,
    });
    expect(config.hooks.promote).toEqual([
      { command: ['/usr/bin/cmha', 'makeactive'], timeoutMs: 120_000, retries: 2, retryDelayMs: 1000 },
    ]);
    expect(config.hooks.postPromote[0]).toMatchObject({ name: 'notify', env: { CHANNEL: 'ops' } });
    expect(config.arbitration).toEqual({ peerCheck: 'failoverping', failForMs: 5000, pollTimeoutMs: 60_000 });
  });

  it('lists every problem at once, each with its path', () => {
    const loaded = parse(`
cluster: BCM_Head
node: head-a
controlPlane:
  url: http://failover-plane.example.net
  pinnedSha256: deadbeef
  requestTimeoutMs: 10
key:
  file: missing.key
  version: 0
heartbeat: { initialIntervalMs: "1s" }
checks:
  - { name: ping, type: tcp, host: head-b }
  - { name: ping, type: command, command: "cmha status" }
  - { name: disk, type: smart }
  - { name: "hook:promote", type: command, command: [/bin/true] }
hooks:
  promote: { command: [] }
  sideways: { command: [x] }
arbitration: { peerCheck: nowhere }
colour: blue
`);
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.errors).toEqual([
      'cluster: must be a cluster id: 1-63 lowercase letters, digits or single dashes',
      'controlPlane.pinnedSha256: must be a SHA-256 fingerprint: 64 hex digits, colons allowed',
      'controlPlane.requestTimeoutMs: Number must be greater than or equal to 500',
      'key.version: Number must be greater than or equal to 1',
      'stateDir: Required',
      'heartbeat.initialIntervalMs: Expected number, received string',
      'checks[0].port: Required',
      'checks[1].command: must be a list: the program and its arguments, e.g. [/usr/bin/cmha, status]',
      'checks[2].type: type must be one of command, tcp, http, gpu, replication',
      'hooks.promote[0].command: must name at least the program',
      "hooks: Unrecognized key(s) in object: 'sideways'",
      "(top level): Unrecognized key(s) in object: 'colour'",
      'checks[1].name: duplicate name ping',
      'checks[3].name: names starting with "hook:" are the agent\'s hook reports',
      'arbitration.peerCheck: must name a configured tcp or command check (nowhere is not one)',
      'controlPlane.url: must be an https:// URL (http:// only with allowInsecureHttp: true)',
      `key.file: cannot read ${path.join(dir, 'missing.key')}: ENOENT`,
    ]);
  });

  it('reports YAML syntax errors with their line', () => {
    const loaded = parse('cluster: a\nnode: [b\nstateDir: x\n');
    expect(loaded).toEqual({
      ok: false,
      errors: [
        'YAML: Flow sequence in block collection must be sufficiently indented and end with a ] at line 3, column 1',
      ],
    });
  });

  it('refuses an empty file and a document that is not a mapping', () => {
    expect(parse('')).toEqual({ ok: false, errors: ['the configuration file is empty'] });
    expect(parse('- a\n- b\n')).toEqual({
      ok: false,
      errors: ['(top level): Expected object, received array'],
    });
  });

  it('checks the key file: base64 of a 32-byte key, and says so when others can read it', () => {
    const write = (name: string, content: string, mode = 0o600) => {
      writeFileSync(path.join(dir, name), content, { mode });
      chmodSync(path.join(dir, name), mode);
    };
    write('short.key', randomBytes(16).toString('base64'));
    write('text.key', 'not a key!');
    write('open.key', key, 0o644);
    const withKey = (file: string) => parse(minimal.replace('file: node.key', `file: ${file}`));
    expect(withKey('short.key')).toEqual({
      ok: false,
      errors: [`key.file: ${path.join(dir, 'short.key')} holds 16 bytes; a node key has 32`],
    });
    expect(withKey('text.key')).toEqual({
      ok: false,
      errors: [
        `key.file: ${path.join(dir, 'text.key')} must hold the node key in base64 (as the key endpoint returned it)`,
      ],
    });
    const open = withKey('open.key');
    expect(open.ok && open.warnings).toEqual([
      `${path.join(dir, 'open.key')} is readable by other users: chmod 600 it (owner: the agent's user)`,
    ]);
  });

  it('refuses a CA file that is not PEM, and http:// unless allowed explicitly', () => {
    writeFileSync(path.join(dir, 'bad.pem'), 'hello');
    const bad = parse(minimal.replace('  url: https', '  caFile: bad.pem\n  url: https'));
    expect(bad).toEqual({
      ok: false,
      errors: [`controlPlane.caFile: ${path.join(dir, 'bad.pem')} is not a PEM certificate bundle`],
    });
    const insecure = minimal.replace('https://failover-plane.example.net', 'http://127.0.0.1:7071');
    expect(parse(insecure).ok).toBe(false);
    expect(parse(insecure.replace('  url: http', '  allowInsecureHttp: true\n  url: http')).ok).toBe(true);
  });
});

describe('the documented example (agent/examples/failover-agent.yaml)', () => {
  it('is valid, with the cmha status checks and the hooks', () => {
    const text = readFileSync(path.resolve(__dirname, '../../agent/examples/failover-agent.yaml'), 'utf8')
      .replace('/etc/failover-agent/node.key', path.join(dir, 'node.key'))
      .replace('/etc/failover-agent/ca.pem', path.join(dir, 'ca.pem'));
    const loaded = parse(text);
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    expect(loaded.config.checks.map((c) => c.name)).toEqual([
      'failoverping',
      'mysql',
      'ping',
      'status',
      'cmdaemon',
      'gpu',
      'replication',
    ]);
    expect(loaded.config.hooks.promote[0]?.command).toEqual(['/bin/sh', '-c', 'echo c | cmha makeactive']);
    expect(loaded.config.arbitration?.peerCheck).toBe('failoverping');
    expect(loaded.config.hooks.fencePeer[0]?.command).toEqual([
      '/usr/local/lib/failover-agent/fence-peer-ipmi.sh',
    ]);
    expect(loaded.config.peers['head-b']?.bmc).toEqual({
      address: 'head-b-ipmi.cluster.local',
      user: 'fencer',
      passwordFile: '/etc/failover-agent/head-b.bmc-password',
    });
  });
});

describe('loadConfig', () => {
  it('says which file it cannot read', () => {
    expect(loadConfig(path.join(dir, 'nope.yaml'))).toEqual({
      ok: false,
      errors: [`cannot read the configuration file ${path.join(dir, 'nope.yaml')}: ENOENT`],
    });
  });
});

describe('the replication check', () => {
  it('reads the lag from a command or a file (resolved against the config file)', () => {
    const loaded = parse(`${minimal}
checks:
  - { type: replication, command: [/usr/local/bin/replication-lag-ms], warnAboveMs: 5000 }
`);
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    expect(loaded.config.checks).toEqual([
      {
        type: 'replication',
        name: 'replication',
        command: ['/usr/local/bin/replication-lag-ms'],
        warnAboveMs: 5000,
        timeoutMs: 5000,
      },
    ]);
    const fromFile = parse(`${minimal}
checks:
  - { type: replication, name: lag, file: applied.stamp }
`);
    if (!fromFile.ok) throw new Error(fromFile.errors.join('\n'));
    expect(fromFile.config.checks).toEqual([
      { type: 'replication', name: 'lag', file: path.join(dir, 'applied.stamp'), timeoutMs: 5000 },
    ]);
  });

  it('needs exactly one of command and file, and at most one replication check', () => {
    const loaded = parse(`${minimal}
checks:
  - { type: replication, name: a }
  - { type: replication, name: b, command: [x], file: y }
  - { type: replication, name: c, file: y, env: { A: b } }
`);
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.errors).toEqual([
      'checks[0]: a replication check needs exactly one of command and file',
      'checks[1]: a replication check needs exactly one of command and file',
      'checks[2].env: only for a replication check with a command',
      "checks: at most one replication check (its lag is the heartbeat's replicationLagMs)",
    ]);
  });
});

describe('fencing peers', () => {
  const fencer = (peers: string) => `${minimal}
hooks:
  fencePeer: { name: power-off, command: [/usr/local/lib/failover-agent/fence-peer-ipmi.sh], timeoutMs: 90000 }
peers:
${peers}`;

  it('reads the fencePeer hook and the peers with their BMC, resolving the password file; the password is never read', () => {
    const secret = 'S3cret-bmc-password';
    writeFileSync(path.join(dir, 'head-b.bmc'), `${secret}\n`, { mode: 0o600 });
    const loaded = parse(
      fencer(`  head-b: { bmc: { address: 10.0.0.12, user: fencer, passwordFile: head-b.bmc } }
  head-c: {}
`),
    );
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    expect(loaded.config.hooks.fencePeer).toEqual([
      {
        name: 'power-off',
        command: ['/usr/local/lib/failover-agent/fence-peer-ipmi.sh'],
        timeoutMs: 90_000,
        retries: 0,
        retryDelayMs: 1000,
      },
    ]);
    expect(loaded.config.peers).toEqual({
      'head-b': { bmc: { address: '10.0.0.12', user: 'fencer', passwordFile: path.join(dir, 'head-b.bmc') } },
      'head-c': {},
    });
    expect(loaded.warnings).toEqual([]);
    expect(JSON.stringify(loaded)).not.toContain(secret);
  });

  it('defaults to no fencePeer hook and no peers', () => {
    const loaded = parse(minimal);
    expect(loaded.ok && [loaded.config.hooks.fencePeer, loaded.config.peers]).toEqual([[], {}]);
  });

  it('warns (the agent still starts) about a password file it cannot read or others can, and peers without a hook', () => {
    writeFileSync(path.join(dir, 'open.bmc'), 'x\n', { mode: 0o644 });
    chmodSync(path.join(dir, 'open.bmc'), 0o644);
    const loaded = parse(
      fencer(`  head-b: { bmc: { address: 10.0.0.12, passwordFile: missing.bmc } }
  head-c: { bmc: { address: 10.0.0.13, passwordFile: open.bmc } }
`),
    );
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    expect(loaded.warnings).toEqual([
      `peers.head-b.bmc.passwordFile: cannot read ${path.join(dir, 'missing.bmc')}: ENOENT (fencing that peer will fail)`,
      `peers.head-c.bmc.passwordFile: ${path.join(dir, 'open.bmc')} is readable by other users: chmod 600 it (owner: the agent's user)`,
    ]);
    const noHook = parse(`${minimal}
peers:
  head-b: {}
`);
    expect(noHook.ok && noHook.warnings).toEqual([
      'peers: listed, but no hooks.fencePeer is configured: fence-peer commands will be refused',
    ]);
  });

  it('refuses this node as its own peer, a peer id that is not a node id, and an inline password', () => {
    const loaded = parse(
      fencer(`  head-a: {}
  Head_B: {}
  head-c: { bmc: { address: 10.0.0.13, password: hunter2 } }
`),
    );
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    expect(loaded.errors).toEqual([
      'peers.Head_B: must be a node id: 1-63 lowercase letters, digits or single dashes',
      "peers.head-c.bmc: Unrecognized key(s) in object: 'password'",
      'peers.head-a: this node itself (a node fences itself through its fence hook)',
    ]);
    expect(loaded.errors.join('\n')).not.toContain('hunter2');
  });
});
