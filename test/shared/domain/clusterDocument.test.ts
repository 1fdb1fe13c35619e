import { parseClusterDocument } from '../../../shared/domain/clusterDocument';

const valid = () => ({
  id: 'bcm-head',
  kind: 'active-passive',
  nodes: [
    {
      id: 'head-a',
      role: 'active',
      site: { cloud: 'azure', region: 'westeurope', zone: '1' },
      compute: {
        kind: 'azure-vm',
        resourceId: '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/head-a',
      },
    },
    {
      id: 'head-b',
      role: 'standby',
      site: { cloud: 'oci', region: 'eu-frankfurt-1' },
      compute: { kind: 'oci-instance', ocid: 'ocid1.instance.oc1.eu-frankfurt-1.abcdefgh' },
      priority: 10,
    },
  ],
});

describe('cluster document validation', () => {
  it('accepts a valid document and fills in the policy defaults', () => {
    const result = parseClusterDocument(valid());
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    expect(result.value.detection).toEqual({
      heartbeatIntervalMs: 1000,
      missedHeartbeats: 5,
      leaseMs: 4000,
      driftMarginMs: 500,
    });
    expect(result.value.failover.mode).toBe('automatic');
    expect(result.value.nodes[0]?.priority).toBe(100);
  });

  it('lists every problem with its path, not just the first', () => {
    const doc: any = valid();
    doc.id = 'Bad/Id';
    doc.nodes[1].site.region = '';
    doc.nodes[1].compute = { kind: 'azure-vm', resourceId: 'not-a-resource-id' };
    doc.detection = { leaseMs: 1000, heartbeatIntervalMs: 1000 };
    doc.extra = true;
    const result = parseClusterDocument(doc);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const paths = result.problems.map((p) => p.path);
    expect(paths).toEqual(
      expect.arrayContaining(['id', 'nodes[1].site.region', 'nodes[1].compute.resourceId', '(document)']),
    );
  });

  it('refuses two actives, duplicate node ids and a two-node-witness cluster of three', () => {
    const doc: any = valid();
    doc.kind = 'two-node-witness';
    doc.nodes.push({ ...doc.nodes[0] });
    const result = parseClusterDocument(doc);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const messages = result.problems.map((p) => `${p.path}: ${p.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        'nodes[2].id: duplicate node id "head-a"',
        'nodes: exactly one node must have role "active" (found 2)',
        'nodes: a two-node-witness cluster has exactly 2 nodes',
      ]),
    );
  });

  it('requires a lease of two heartbeats and a drift margin covering 1% of the lease', () => {
    const doc: any = valid();
    doc.detection = { heartbeatIntervalMs: 1000, leaseMs: 1500, driftMarginMs: 0 };
    const result = parseClusterDocument(doc);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    expect(result.problems.map((p) => p.path)).toEqual(['detection.leaseMs', 'detection.driftMarginMs']);
  });

  it('validates the drill schedule as 6-field NCRONTAB', () => {
    expect(parseClusterDocument({ ...valid(), drill: { schedule: '0 0 3 * * 0' } }).ok).toBe(true);
    for (const schedule of ['0 3 * * 0', '0 99 3 * * 0', 'every sunday']) {
      const result = parseClusterDocument({ ...valid(), drill: { schedule } });
      expect(result.ok ? [] : result.problems.map((p) => p.path)).toEqual(['drill.schedule']);
    }
  });

  it('refuses ids that are not valid table keys', () => {
    for (const id of ['a#b', 'a?b', 'UPPER', '-lead', 'x'.repeat(64)]) {
      const result = parseClusterDocument({ ...valid(), id });
      expect(result.ok).toBe(false);
    }
  });
});
