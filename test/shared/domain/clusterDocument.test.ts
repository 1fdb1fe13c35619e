import { parseClusterDocument, peerLeasesOn } from '../../../shared/domain/clusterDocument';

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
      peerLeases: true,
    });
    expect(result.value.failover.mode).toBe('automatic');
    expect(result.value.nodes[0]?.priority).toBe(100);
  });

  it('takes detection.peerLeases as a boolean (default true; a stored document without it reads as on)', () => {
    const off = parseClusterDocument({ ...valid(), detection: { peerLeases: false } });
    expect(off.ok && off.value.detection.peerLeases).toBe(false);
    const bad = parseClusterDocument({ ...valid(), detection: { peerLeases: 'yes' } });
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.problems.map((p) => p.path)).toContain('detection.peerLeases');
    expect(peerLeasesOn({})).toBe(true);
    expect(peerLeasesOn(undefined)).toBe(true);
    expect(peerLeasesOn({ peerLeases: false })).toBe(false);
  });

  it('takes a fencer node only from the nodes of the cluster, and defaults the verification policy', () => {
    const ok = parseClusterDocument({ ...valid(), failover: { fencerNodeId: valid().nodes[1]!.id } });
    expect(ok.ok).toBe(true);
    if (ok.ok) expect(ok.value.failover).toMatchObject({ verifyHeartbeats: 2, promoteTimeoutMs: 120_000 });
    const bad = parseClusterDocument({ ...valid(), failover: { fencerNodeId: 'elsewhere' } });
    expect(bad.ok).toBe(false);
    if (!bad.ok)
      expect(bad.problems).toContainEqual(
        expect.objectContaining({
          message: expect.stringContaining('"elsewhere" is not a node of this cluster'),
        }),
      );
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

describe('cluster document validation: cross-field rules and bounds', () => {
  it('lists the cross-field rules too when an enum is invalid (duplicate ids, two actives)', () => {
    const doc: any = valid();
    doc.kind = 'three-way';
    doc.nodes[0].site.cloud = 'gcp';
    doc.nodes.push({ ...doc.nodes[0], site: { cloud: 'azure', region: 'x' } });
    const result = parseClusterDocument(doc);
    expect(result.ok).toBe(false);
    if (result.ok) return;
    const messages = result.problems.map((p) => `${p.path}: ${p.message}`);
    expect(messages).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^kind: Invalid enum value/),
        expect.stringMatching(/^nodes\[0\]\.site\.cloud: Invalid enum value/),
        'nodes[2].id: duplicate node id "head-a"',
        'nodes: exactly one node must have role "active" (found 2)',
      ]),
    );
    // Each problem once, even when the schema's own pass could evaluate it.
    expect(new Set(messages).size).toBe(messages.length);
  });

  it('does not claim "no active" while a role is itself invalid, and checks detection beside other problems', () => {
    const doc: any = valid();
    doc.nodes[0].role = 'primary';
    doc.nodes[1].site.cloud = 'gcp';
    doc.detection = { heartbeatIntervalMs: 1000, leaseMs: 1500 };
    const result = parseClusterDocument(doc);
    if (result.ok) throw new Error('expected problems');
    const messages = result.problems.map((p) => `${p.path}: ${p.message}`);
    expect(messages.some((m) => m.includes('exactly one node'))).toBe(false);
    expect(messages).toEqual(
      expect.arrayContaining([expect.stringMatching(/^detection\.leaseMs: must be at least twice/)]),
    );
  });

  it('rejects the witness settings the control plane does not take from a document, saying why', () => {
    for (const extra of [
      { connectionSetting: 'Other' },
      { container: 'witness' },
      { leaseDurationSeconds: 30 },
    ]) {
      const result = parseClusterDocument({ ...valid(), witness: { arbitrationWindowMs: 2000, ...extra } });
      if (result.ok) throw new Error('expected a problem');
      expect(result.problems).toEqual([
        { path: 'witness', message: expect.stringContaining('witness accepts only arbitrationWindowMs') },
      ]);
    }
    expect(parseClusterDocument({ ...valid(), witness: { arbitrationWindowMs: 500 } }).ok).toBe(true);
  });

  it('names the bound of every long field and of the stored size', () => {
    const doc: any = valid();
    doc.nodes[1].compute = { kind: 'oci-instance', ocid: `ocid1.instance.oc1.x.${'a'.repeat(300)}` };
    doc.drill = { schedule: '0 0 3 * * 0'.padEnd(200, ' ') };
    const result = parseClusterDocument(doc);
    if (result.ok) throw new Error('expected problems');
    expect(result.problems).toEqual(
      expect.arrayContaining([
        { path: 'nodes[1].compute.ocid', message: 'must be at most 255 characters' },
        { path: 'drill.schedule', message: 'must be at most 120 characters' },
      ]),
    );
    const many: any = valid();
    many.nodes = Array.from({ length: 501 }, (_, i) => ({
      id: `n${i}`,
      role: i ? 'standby' : 'active',
      site: { cloud: 'azure', region: 'r' },
    }));
    const tooMany = parseClusterDocument(many);
    expect(tooMany.ok ? [] : tooMany.problems).toEqual([
      { path: 'nodes', message: 'must have at most 500 nodes' },
    ]);
    // Accepted field by field but too large to store as a whole: refused, naming the limit.
    const wide: any = valid();
    wide.nodes = Array.from({ length: 500 }, (_, i) => ({
      id: `node-${i}`,
      role: i ? 'standby' : 'active',
      site: { cloud: 'azure', region: 'é'.repeat(64), zone: 'z'.repeat(64) },
      compute: {
        kind: 'azure-vm',
        resourceId: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${'v'.repeat(900)}`,
      },
    }));
    const tooLarge = parseClusterDocument(wide);
    expect(tooLarge.ok ? [] : tooLarge.problems).toEqual([
      { path: '(document)', message: expect.stringMatching(/at most 480000 can be stored$/) },
    ]);
  });
});
