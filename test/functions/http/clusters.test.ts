import { loadConfig } from '../../../shared/config/config';
import { WitnessBusyError } from '../../../shared/errors';
import { createServices } from '../../../shared/services/services';
import { request } from '../../helpers/durableHttp';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../../helpers/controlPlane';

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

  it('needs the admin key to declare: the function key gets 401 and nothing is written', async () => {
    const r = await request(url('clusters/gamma'), {
      method: 'PUT',
      key: cp.functionKey,
      body: twoNodeCluster('gamma'),
    });
    expect(r.status).toBe(401);
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
    ).toBe(401);
    expect(cp.logs.join('\n')).not.toContain(issued.json.key);
    expect(cp.logs.join('\n')).not.toContain(rotated.json.key);
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
    ).toBe(401);
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
