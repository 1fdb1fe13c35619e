import { readFileSync } from 'node:fs';
import path from 'node:path';
import { parseCli } from '../../../devhost/cli';
import { demoClusterDocument, demoClusters } from '../../../devhost/demo/demoClusters';
import {
  agentConfig,
  clusterHealth,
  describeAgentEvent,
  freeLoopbackPort,
} from '../../../devhost/demo/demoFleet';
import { parseClusterDocument } from '../../../shared/domain/clusterDocument';

test('every demo cluster document is valid, with and without the cloud simulator, and fails over automatically', () => {
  for (const cloud of [true, false])
    for (const cluster of demoClusters()) {
      const parsed = parseClusterDocument(demoClusterDocument(cluster, cloud));
      if (!parsed.ok) throw new Error(`${cluster.id}: ${JSON.stringify(parsed.problems)}`);
      expect(parsed.value.failover.mode).toBe('automatic');
      expect(
        parsed.value.detection.heartbeatIntervalMs * parsed.value.detection.missedHeartbeats,
      ).toBeLessThanOrEqual(5000);
      expect(parsed.value.pools !== undefined).toBe(cloud && cluster.pools !== undefined);
    }
});

test('the fleet is the users’ setups: witness pair, BCM heads, a GPU VM move, HPC heads with a pool, Azure + OCI', () => {
  const clusters = demoClusters();
  const byId = Object.fromEntries(clusters.map((c) => [c.id, c]));
  expect(byId['witness-pair']?.kind).toBe('two-node-witness');
  expect(JSON.stringify(byId['bcm-head'])).toContain('cmha makeactive');
  expect(byId['gpu-vm']?.nodes[0]?.promote.map((s) => s.name)).toEqual([
    'gpu-attach',
    'dda-assign',
    'start-vm',
  ]);
  const hpc = demoClusterDocument(byId['hpc-head']!, true) as {
    nodes: { site: { region: string } }[];
    pools: unknown[];
  };
  expect(new Set(hpc.nodes.map((n) => n.site.region)).size).toBe(2);
  expect(hpc.pools).toHaveLength(1);
  const xcloud = demoClusterDocument(byId.xcloud!, true) as { nodes: { compute: { kind: string } }[] };
  expect(xcloud.nodes.map((n) => n.compute.kind)).toEqual(['azure-vm', 'oci-instance']);
  // Node ids are unique across the fleet: `demo kill <node>` names one alone.
  const ids = clusters.flatMap((c) => c.nodes.map((n) => n.id));
  expect(new Set(ids).size).toBe(ids.length);
  // Realistic time: each step a few hundred ms to a few seconds.
  for (const step of clusters.flatMap((c) =>
    c.nodes.flatMap((n) => [...n.promote, ...n.demote, ...n.fence]),
  )) {
    expect(step.ms).toBeGreaterThanOrEqual(200);
    expect(step.ms).toBeLessThanOrEqual(5000);
  }
});

test('an agent configuration runs the hook script with what the step would do and how long it takes', () => {
  const cluster = demoClusters().find((c) => c.id === 'gpu-vm')!;
  const config = agentConfig(cluster, cluster.nodes[1]!, {
    url: 'http://127.0.0.1:1234',
    keyFile: '/k',
    keyVersion: 2,
    stateDir: '/s',
    peerPort: 40123,
    peerKeyFile: '/p.key',
    hookScript: '/h.sh',
    hookLog: '/hooks.log',
    nvidiaSmi: '/n.sh',
  }) as {
    hooks: { promote: { command: string[] }[] };
    key: unknown;
    checks: unknown[];
    peerListener: unknown;
  };
  expect(config.hooks.promote[0]?.command).toEqual([
    '/h.sh',
    '0.900',
    'attach GPU 0 of I/O box eeb-01 to this server through the ExpEther Manager',
  ]);
  expect(config.key).toEqual({ file: '/k', version: 2 });
  // Peer promises: each demo agent listens on its own loopback port and signs with the cluster's peer key.
  expect(config.peerListener).toEqual({
    address: '127.0.0.1',
    port: 40123,
    advertiseUrl: 'http://127.0.0.1:40123',
    keyFile: '/p.key',
  });
  expect(config.checks).toEqual([{ type: 'gpu', command: ['/n.sh', '1'] }]);
});

test('a free loopback port for each demo peer listener', async () => {
  const [a, b] = await Promise.all([freeLoopbackPort(), freeLoopbackPort()]);
  expect(a).toBeGreaterThan(0);
  expect(b).toBeGreaterThan(0);
});

test('health: a verified active heard under the epoch and every standby heard', () => {
  const node = (
    nodeId: string,
    reportedRole: 'active' | 'standby',
    age: number | null = 100,
    reportedEpoch = 2,
  ) => ({
    nodeId,
    reportedRole,
    reportedEpoch,
    lastHeartbeatAgeMs: age,
  });
  const base = { epoch: 2, activeNodeId: 'a', revoked: false, leaseExpired: false };
  expect(clusterHealth('c', { ...base, nodes: [node('a', 'active'), node('b', 'standby')] }).healthy).toBe(
    true,
  );
  expect(clusterHealth('c', { ...base, nodes: [node('a', 'active'), node('b', 'standby', null)] }).why).toBe(
    'b is not heartbeating',
  );
  expect(
    clusterHealth('c', { ...base, nodes: [node('a', 'active', 100, 1), node('b', 'standby')] }).healthy,
  ).toBe(false);
  expect(clusterHealth('c', { ...base, revoked: true, nodes: [] }).healthy).toBe(false);
  expect(clusterHealth('c', { ...base, activeNodeId: null, nodes: [] }).why).toBe('no active');
});

test('the console shows role changes and hook steps, not every heartbeat', () => {
  expect(
    describeAgentEvent({ msg: 'hook step started', operation: 'promote', step: 'makeactive', epoch: 3 }),
  ).toBe('promote: step makeactive (epoch 3)');
  expect(describeAgentEvent({ msg: 'active', epoch: 3 })).toBe('is ACTIVE (epoch 3)');
  expect(describeAgentEvent({ msg: 'heartbeat' })).toBeUndefined();
});

test('npm start runs the demo fleet unless --no-demo; the plain CLI (and the library) only when asked', () => {
  const npmStart = (
    JSON.parse(readFileSync(path.join(__dirname, '../../../package.json'), 'utf8')) as {
      scripts: Record<string, string>;
    }
  ).scripts.start;
  const args = npmStart?.split(' ').slice(2) ?? [];
  expect(parseCli(args).demo).toBe(true);
  expect(parseCli([...args, '--no-demo']).demo).toBe(false);
  expect(parseCli(['start']).demo).toBe(false);
});
