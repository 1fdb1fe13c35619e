import { loadConfig } from '../../../shared/config/config';
import { WitnessBusyError } from '../../../shared/errors';
import { createServices } from '../../../shared/services/services';
import { request } from '../../helpers/durableHttp';
import {
  manyNodeCluster,
  startControlPlane,
  twoNodeCluster,
  type ControlPlane,
} from '../../helpers/controlPlane';

let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp.stop();
});

const url = (path: string) => `${cp.host.url}/api/v1/${path}`;

describe('cluster declaration API', () => {
  it('creates a cluster with the admin key (201), then answers 200 unchanged for the same document', async () => {
    const first = await request(url('clusters/alpha'), {
      method: 'PUT',
      key: cp.adminKey,
      body: twoNodeCluster('alpha'),
    });
    expect(first.status).toBe(201);
    expect(first.json.status).toMatchObject({ clusterId: 'alpha', epoch: 1, activeNodeId: 'head-a' });
    const again = await request(url('clusters/alpha'), {
      method: 'PUT',
      key: cp.adminKey,
      body: twoNodeCluster('alpha'),
    });
    expect(again.status).toBe(200);
    expect(again.json.changed).toBe(false);
  });

  it('accepts YAML', async () => {
    const yaml = [
      'id: beta',
      'kind: two-node-witness',
      'nodes:',
      '  - id: n1',
      '    role: active',
      '    site: { cloud: azure, region: westeurope }',
      '  - id: n2',
      '    role: standby',
      '    site: { cloud: oci, region: eu-frankfurt-1 }',
      '',
    ].join('\n');
    const r = await request(url('clusters/beta'), {
      method: 'PUT',
      key: cp.adminKey,
      body: yaml,
      raw: true,
      headers: { 'content-type': 'application/yaml' },
    });
    expect(r.status).toBe(201);
    expect(r.json.cluster.kind).toBe('two-node-witness');
  });

  it('needs the admin role to declare: the function key (a viewer) gets 403 and nothing is written', async () => {
    const r = await request(url('clusters/gamma'), {
      method: 'PUT',
      key: cp.functionKey,
      body: twoNodeCluster('gamma'),
    });
    expect(r.status).toBe(403);
    expect(r.json.error).toMatchObject({ code: 'MissingRole', requiredRole: 'admin' });
    expect((await request(url('clusters/gamma'), { key: cp.functionKey })).status).toBe(404);
  });

  it('answers 400 listing every problem with its path, and writes nothing', async () => {
    const bad: any = twoNodeCluster('delta');
    bad.nodes[1].role = 'active';
    bad.nodes[0].site.region = '';
    bad.detection = { leaseMs: 500 };
    const r = await request(url('clusters/delta'), { method: 'PUT', key: cp.adminKey, body: bad });
    expect(r.status).toBe(400);
    expect(r.json.error.code).toBe('InvalidClusterDocument');
    expect(r.json.error.problems.map((p: any) => p.path)).toEqual(
      expect.arrayContaining(['nodes', 'nodes[0].site.region', 'detection.leaseMs']),
    );
    expect((await request(url('clusters/delta'), { key: cp.functionKey })).status).toBe(404);
  });

  it('refuses malformed JSON, an id mismatch, an invalid id and an oversized document', async () => {
    expect(
      (await request(url('clusters/eps'), { method: 'PUT', key: cp.adminKey, body: '{"id":', raw: true }))
        .json.error.code,
    ).toBe('InvalidDocumentSyntax');
    expect(
      (await request(url('clusters/eps'), { method: 'PUT', key: cp.adminKey, body: twoNodeCluster('other') }))
        .json.error.code,
    ).toBe('ClusterIdMismatch');
    expect(
      (await request(url('clusters/Bad_Id'), { method: 'PUT', key: cp.adminKey, body: twoNodeCluster('x') }))
        .status,
    ).toBe(400);
    const big = { ...twoNodeCluster('eps'), description: 'x'.repeat(300 * 1024) };
    expect((await request(url('clusters/eps'), { method: 'PUT', key: cp.adminKey, body: big })).status).toBe(
      413,
    );
  });

  it('lists clusters and shows status as JSON and as a cmha-like text block', async () => {
    await request(url('clusters/zeta'), { method: 'PUT', key: cp.adminKey, body: twoNodeCluster('zeta') });
    const list = await request(url('clusters'), { key: cp.functionKey });
    expect(list.json.clusters).toEqual(
      expect.arrayContaining([expect.objectContaining({ id: 'zeta', epoch: 1, activeNodeId: 'head-a' })]),
    );
    const status = await request(url('clusters/zeta/status'), { key: cp.functionKey });
    expect(status.json.nodes.map((n: any) => [n.nodeId, n.active, n.lastHeartbeatAgeMs])).toEqual([
      ['head-a', true, null],
      ['head-b', false, null],
    ]);
    const text = await fetch(`${url('clusters/zeta/status')}?format=text&code=${cp.functionKey}`).then((r) =>
      r.text(),
    );
    expect(text).toContain('* head-a');
    expect(text).toContain('Cluster zeta (active-passive) — epoch 1');
  });

  it('issues a node key once, refuses a second issue, rotates on request and never logs the key', async () => {
    await request(url('clusters/eta'), { method: 'PUT', key: cp.adminKey, body: twoNodeCluster('eta') });
    const issued = await request(url('clusters/eta/nodes/head-a/key'), { method: 'POST', key: cp.adminKey });
    expect(issued.status).toBe(201);
    expect(issued.json.keyVersion).toBe(1);
    expect(Buffer.from(issued.json.key, 'base64')).toHaveLength(32);
    // The cluster's peer key comes with it: 32 bytes, distinct from the node key, the same for every node.
    expect(Object.keys(issued.json).sort()).toEqual(['clusterId', 'key', 'keyVersion', 'nodeId', 'peerKey']);
    expect(Buffer.from(issued.json.peerKey, 'base64')).toHaveLength(32);
    expect(issued.json.peerKey).not.toBe(issued.json.key);
    expect(issued.headers.get('cache-control')).toBe('no-store');
    const other = await request(url('clusters/eta/nodes/head-b/key'), { method: 'POST', key: cp.adminKey });
    expect(other.json.peerKey).toBe(issued.json.peerKey);
    expect(
      (await request(url('clusters/eta/nodes/head-a/key'), { method: 'POST', key: cp.adminKey })).status,
    ).toBe(409);
    const rotated = await request(url('clusters/eta/nodes/head-a/key?rotate=true'), {
      method: 'POST',
      key: cp.adminKey,
    });
    expect(rotated.json.keyVersion).toBe(2);
    expect(rotated.json.key).not.toBe(issued.json.key);
    expect(
      (await request(url('clusters/eta/nodes/nobody/key'), { method: 'POST', key: cp.adminKey })).status,
    ).toBe(404);
    expect(
      (await request(url('clusters/eta/nodes/head-b/key'), { method: 'POST', key: cp.functionKey })).status,
    ).toBe(403);
    expect(cp.logs.join('\n')).not.toContain(issued.json.key);
    expect(cp.logs.join('\n')).not.toContain(rotated.json.key);
    expect(rotated.json.peerKey).toBe(issued.json.peerKey);
    expect(cp.logs.join('\n')).not.toContain(issued.json.peerKey);
  });

  it('breaks a stuck witness lease for the operator, with the admin key and a reason', async () => {
    await request(url('clusters/theta'), { method: 'PUT', key: cp.adminKey, body: twoNodeCluster('theta') });
    const services = createServices(loadConfig(cp.settings));
    await services.witness.ensureContainer();
    await services.witness.acquire('theta', 'stuck-decider');
    await expect(services.witness.acquire('theta', 'next-decider')).rejects.toBeInstanceOf(WitnessBusyError);
    expect(
      (
        await request(url('clusters/theta/witness/break?reason=stuck'), {
          method: 'POST',
          key: cp.functionKey,
        })
      ).status,
    ).toBe(403);
    expect(
      (await request(url('clusters/theta/witness/break'), { method: 'POST', key: cp.adminKey })).status,
    ).toBe(400);
    expect(
      (await request(url('clusters/nope/witness/break?reason=x'), { method: 'POST', key: cp.adminKey }))
        .status,
    ).toBe(404);
    const broken = await request(url('clusters/theta/witness/break?reason=stuck'), {
      method: 'POST',
      key: cp.adminKey,
    });
    expect(broken.status).toBe(202);
    await expect(services.witness.acquire('theta', 'next-decider')).resolves.toMatchObject({
      decider: 'next-decider',
    });
    expect((await services.audit.recent('theta')).map((e) => e.action)).toContain('witness-lease-broken');
  });
});

describe('cluster declaration under concurrency and at the limits', () => {
  const put = (id: string, body: unknown, headers: Record<string, string> = {}) =>
    request(url(`clusters/${id}`), {
      method: 'PUT',
      key: cp.adminKey,
      body: typeof body === 'string' ? body : JSON.stringify(body),
      raw: true,
      headers: { 'content-type': 'application/json', ...headers },
    });

  it('50 parallel declarations of a new cluster: one 201, the others 409 or the truth; the active is in the stored document', async () => {
    const docs = Array.from({ length: 50 }, (_, i) => ({
      id: 'race',
      kind: 'active-passive',
      nodes: [
        { id: `a-${i}`, role: 'active', site: { cloud: 'azure', region: 'westeurope' } },
        { id: `b-${i}`, role: 'standby', site: { cloud: 'azure', region: 'northeurope' } },
      ],
    }));
    const answers = await Promise.all(docs.map((d) => put('race', d)));
    const statuses = answers.map((a) => a.status);
    expect(statuses.filter((s) => s === 201)).toHaveLength(1);
    expect(statuses.every((s) => s === 201 || s === 200 || s === 409)).toBe(true);
    for (const a of answers.filter((x) => x.status === 409))
      expect(['ConcurrentDeclaration', 'ActiveNodeRemoved']).toContain(a.json.error.code);
    const stored = await request(url('clusters/race'), { key: cp.functionKey });
    const nodeIds = stored.json.cluster.nodes.map((n: any) => n.id);
    expect(nodeIds).toContain(stored.json.status.activeNodeId);
    // Every success told the truth: it stored the document it answered with (the last one is what is stored).
    const winner = answers.find((a) => a.status === 201);
    expect(winner?.json.changed).toBe(true);
    const successes = answers.filter((a) => a.status === 200 || a.status === 201);
    expect(successes.map((a) => JSON.stringify(a.json.cluster.nodes))).toContain(
      JSON.stringify(stored.json.cluster.nodes),
    );
  });

  it('stores a 200-node document of about 40 KB', async () => {
    const doc = manyNodeCluster('wide', 200);
    expect(JSON.stringify(doc).length).toBeGreaterThan(35_000);
    const r = await put('wide', doc);
    expect(r.status).toBe(201);
    const read = await request(url('clusters/wide'), { key: cp.functionKey });
    expect(read.json.cluster.nodes).toHaveLength(200);
  });

  it('refuses a too-long resource id and drill schedule with 400 naming the bound', async () => {
    const doc: any = twoNodeCluster('longs');
    doc.nodes[0].compute = {
      kind: 'azure-vm',
      resourceId: `/subscriptions/s/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/${'v'.repeat(70_000)}`,
    };
    doc.drill = { schedule: `0 0 3 * * ${'0,'.repeat(40_000)}0` };
    const r = await put('longs', doc);
    expect(r.status).toBe(400);
    const problems = r.json.error.problems.map((p: any) => `${p.path}: ${p.message}`).join('\n');
    expect(problems).toContain('nodes[0].compute.resourceId: must be at most 1024 characters');
    expect(problems).toContain('drill.schedule: must be at most 120 characters');
  });

  it('warns that re-declaring with the roles swapped does not change the active (make-active does)', async () => {
    expect((await put('swap', twoNodeCluster('swap'))).status).toBe(201);
    const swapped: any = twoNodeCluster('swap');
    swapped.nodes[0].role = 'standby';
    swapped.nodes[1].role = 'active';
    const r = await put('swap', swapped);
    expect(r.status).toBe(200);
    expect(r.json.changed).toBe(true);
    expect(r.json.status.activeNodeId).toBe('head-a');
    expect(r.json.warnings).toEqual([
      expect.objectContaining({ code: 'RolesNotApplied', message: expect.stringContaining('make-active') }),
    ]);
    expect((await put('swap', twoNodeCluster('swap'))).json.warnings).toEqual([]);
  });

  it('reads YAML only under a YAML content type, JSON otherwise, and answers 415 naming the accepted types', async () => {
    const yaml =
      'id: yml\nkind: active-passive\nnodes:\n  - {id: a, role: active, site: {cloud: azure, region: x}}\n  - {id: b, role: standby, site: {cloud: azure, region: y}}\n';
    const asPlain = await put('yml', yaml, { 'content-type': 'text/plain' });
    expect(asPlain.status).toBe(415);
    expect(asPlain.json.error.code).toBe('UnsupportedMediaType');
    expect(asPlain.json.error.accepted).toEqual([
      'application/json',
      'application/yaml',
      'text/yaml',
      'application/x-yaml',
    ]);
    const asJson = await put('yml', yaml);
    expect(asJson.status).toBe(400);
    expect(asJson.json.error.code).toBe('InvalidDocumentSyntax');
    expect(asJson.json.error.message).toMatch(/not valid JSON.*needs content-type application\/yaml/);
    expect((await put('yml', yaml, { 'content-type': 'text/yaml; charset=utf-8' })).status).toBe(201);
    expect((await put('yml', yaml, { 'content-type': 'application/x-yaml' })).status).toBe(200);
  });
});
