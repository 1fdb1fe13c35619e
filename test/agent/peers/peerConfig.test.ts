import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parseConfig, peerAdvertiseUrl } from '../../../agent/config';

let dir: string;
const nodeKey = randomBytes(32).toString('base64');
const peerKey = randomBytes(32).toString('base64');

beforeAll(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'fp-agent-peer-config-'));
  writeFileSync(path.join(dir, 'node.key'), `${nodeKey}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'peer.key'), `${peerKey}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'short.key'), `${randomBytes(8).toString('base64')}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'text.key'), 'not base64 at all!\n', { mode: 0o600 });
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const parse = (extra: string) =>
  parseConfig(
    `
cluster: bcm-head
node: head-a
controlPlane:
  url: https://failover-plane.example.net
key:
  file: node.key
stateDir: state
${extra}`,
    path.join(dir, 'agent.yaml'),
  );

describe('peerListener configuration', () => {
  it('is optional: without it there is no peer key and no listener', () => {
    const loaded = parse('');
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    expect(loaded.config.peerListener).toBeUndefined();
    expect(loaded.peerKey).toBeUndefined();
  });

  it('reads the section and the peer key (kept beside the configuration, never inside it)', () => {
    const loaded = parse(`
peerListener:
  address: 10.0.0.1
  port: 7946
  keyFile: peer.key
`);
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    expect(loaded.config.peerListener).toEqual({
      address: '10.0.0.1',
      port: 7946,
      keyFile: path.join(dir, 'peer.key'),
    });
    expect(loaded.peerKey?.equals(Buffer.from(peerKey, 'base64'))).toBe(true);
    expect(JSON.stringify(loaded.config)).not.toContain(peerKey);
    expect(peerAdvertiseUrl(loaded.config.peerListener ?? { address: '', port: 0 })).toBe(
      'http://10.0.0.1:7946',
    );
  });

  it('requires advertiseUrl with a wildcard address (the default 0.0.0.0, or ::)', () => {
    for (const address of ['', 'address: "::"']) {
      const loaded = parse(`
peerListener:
  ${address}
  port: 7946
  keyFile: peer.key
`);
      expect(loaded.ok).toBe(false);
      if (!loaded.ok) expect(loaded.errors.join('\n')).toMatch(/peerListener\.advertiseUrl: required/);
    }
    const ok = parse(`
peerListener:
  port: 7946
  advertiseUrl: http://head-a.cluster:7946
  keyFile: peer.key
`);
    if (!ok.ok) throw new Error(ok.errors.join('\n'));
    expect(ok.config.peerListener).toMatchObject({
      address: '0.0.0.0',
      advertiseUrl: 'http://head-a.cluster:7946',
    });
    expect(peerAdvertiseUrl(ok.config.peerListener ?? { address: '', port: 0 })).toBe(
      'http://head-a.cluster:7946',
    );
  });

  it('lists every problem with its path, and names key file problems without their content', () => {
    const loaded = parse(`
peerListener:
  address: 10.0.0.1
  port: 70000
  advertiseUrl: ftp://x
  keyFile: short.key
  extra: 1
`);
    expect(loaded.ok).toBe(false);
    if (loaded.ok) return;
    const text = loaded.errors.join('\n');
    expect(text).toMatch(/peerListener\.port/);
    expect(text).toMatch(/peerListener\.advertiseUrl: must be http\(s\):\/\/host:port/);
    expect(text).toMatch(/peerListener: Unrecognized key/);
    expect(text).toMatch(/peerListener\.keyFile: .*short\.key holds 8 bytes; a peer key has 32/);
    const text2 = parse(`
peerListener: { address: 10.0.0.1, port: 1, keyFile: text.key }
`);
    expect(text2.ok).toBe(false);
    if (!text2.ok) {
      expect(text2.errors.join('\n')).toMatch(
        /peerListener\.keyFile: .*text\.key must hold the peer key in base64/,
      );
      expect(text2.errors.join('\n')).not.toContain('not base64 at all');
    }
    const missing = parse(`
peerListener: { address: 10.0.0.1, port: 1, keyFile: nowhere.key }
`);
    expect(missing.ok).toBe(false);
    if (!missing.ok)
      expect(missing.errors.join('\n')).toMatch(/peerListener\.keyFile: cannot read .*nowhere\.key: ENOENT/);
  });

  it('allows port 0 (tests: any free port) and an advertiseUrl without a port is refused', () => {
    const zero = parse(`
peerListener: { address: 127.0.0.1, port: 0, keyFile: peer.key }
`);
    expect(zero.ok).toBe(true);
    const noPort = parse(`
peerListener: { address: 127.0.0.1, port: 1, advertiseUrl: 'http://head-a', keyFile: peer.key }
`);
    expect(noPort.ok).toBe(false);
    if (!noPort.ok) expect(noPort.errors.join('\n')).toMatch(/advertiseUrl: must name the port/);
    expect(peerAdvertiseUrl({ address: 'fd00::1', port: 7946 })).toBe('http://[fd00::1]:7946');
  });

  it('the documented example (commented out in agent/examples/failover-agent.yaml) is valid once uncommented', () => {
    const example = readFileSync(
      path.resolve(__dirname, '../../../agent/examples/failover-agent.yaml'),
      'utf8',
    );
    const start = example.indexOf('# peerListener:');
    expect(start).toBeGreaterThan(0);
    const block = example
      .slice(start)
      .split('\n')
      .filter((line, i) => i === 0 || line.startsWith('#   '));
    const uncommented = block
      .map((line) => line.replace(/^# /, ''))
      .join('\n')
      .replace('/etc/failover-agent/peer.key', path.join(dir, 'peer.key'));
    const loaded = parse(uncommented);
    if (!loaded.ok) throw new Error(loaded.errors.join('\n'));
    expect(loaded.config.peerListener).toMatchObject({
      address: '0.0.0.0',
      port: 7946,
      advertiseUrl: 'http://head-a.cluster.internal:7946',
    });
  });
});
