import {
  DEFAULT_POOL_COOLDOWN_MS,
  MAX_POOL_DESIRED,
  MAX_POOL_SITES,
  MAX_POOLS,
  parseClusterDocument,
} from '../../../shared/domain/clusterDocument';

const vmss = (name: string) =>
  `/subscriptions/s1/resourceGroups/rg/providers/Microsoft.Compute/virtualMachineScaleSets/${name}`;

const pool = () => ({
  id: 'gpu-workers',
  desired: 10,
  sites: [
    {
      id: 'weu-1',
      cloud: 'azure',
      region: 'westeurope',
      zone: '1',
      size: 'Standard_ND96asr_v4',
      group: vmss('a'),
    },
    {
      id: 'neu',
      cloud: 'azure',
      region: 'northeurope',
      size: 'Standard_ND96asr_v4',
      group: vmss('b'),
      cap: 8,
    },
    {
      id: 'fra-ad1',
      cloud: 'oci',
      region: 'eu-frankfurt-1',
      zone: 'AD-1',
      size: 'BM.GPU.A100-v2.8',
      group: 'ocid1.instancepool.oc1.eu-frankfurt-1.aaaabbbb',
      weight: 2,
      min: 1,
    },
  ],
});

const doc = (pools: unknown) => ({
  id: 'hpc',
  kind: 'multi-region',
  nodes: [
    { id: 'head-a', role: 'active', site: { cloud: 'azure', region: 'westeurope' } },
    { id: 'head-b', role: 'standby', site: { cloud: 'oci', region: 'eu-frankfurt-1' } },
  ],
  pools,
});

const problems = (input: unknown) => {
  const result = parseClusterDocument(input);
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
};

describe('pools in the cluster document', () => {
  it('are optional, and a valid pool gets its defaults (weight 1, the cool-downs)', () => {
    expect(problems(doc(undefined))).toEqual([]);
    const result = parseClusterDocument(doc([pool()]));
    expect(result.ok).toBe(true);
    if (!result.ok) return;
    const parsed = result.value.pools?.[0];
    expect(parsed?.cooldownMs).toEqual(DEFAULT_POOL_COOLDOWN_MS);
    expect(parsed?.sites.map((s) => s.weight)).toEqual([1, 1, 2]);
    expect(parsed?.sites[1]?.cap).toBe(8);
  });

  it('takes cool-downs per error kind, the others defaulted', () => {
    const result = parseClusterDocument(doc([{ ...pool(), cooldownMs: { allocationFailed: 180_000 } }]));
    expect(result.ok).toBe(true);
    if (result.ok)
      expect(result.value.pools?.[0]?.cooldownMs).toEqual({
        ...DEFAULT_POOL_COOLDOWN_MS,
        allocationFailed: 180_000,
      });
    expect(problems(doc([{ ...pool(), cooldownMs: { quota: -1, forever: 1 } }]))).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^pools\[0\]\.cooldownMs\.quota: /),
        expect.stringMatching(/^pools\[0\]\.cooldownMs: .*forever/),
      ]),
    );
  });

  it('lists every problem of a site with its path', () => {
    const p = pool();
    const bad = {
      ...p,
      id: 'Bad Pool',
      desired: -1,
      sites: [
        { ...p.sites[0], cloud: 'on-prem', size: 'no spaces', weight: 0 },
        { ...p.sites[1], cap: 1.5, extra: true },
        { ...p.sites[2], group: 'x'.repeat(2000), min: -1 },
      ],
    };
    const found = problems(doc([bad]));
    for (const path of [
      'pools[0].id',
      'pools[0].desired',
      'pools[0].sites[0].cloud',
      'pools[0].sites[0].size',
      'pools[0].sites[0].weight',
      'pools[0].sites[1].cap',
      'pools[0].sites[1]',
      'pools[0].sites[2].group',
      'pools[0].sites[2].min',
    ])
      expect(found).toEqual(
        expect.arrayContaining([expect.stringMatching(new RegExp(`^${path.replace(/[[\].]/g, '\\$&')}: `))]),
      );
  });

  it('names the bounds: pools, sites per pool, desired, group length', () => {
    const many = Array.from({ length: MAX_POOLS + 1 }, (_, i) => ({ ...pool(), id: `p${i}` }));
    expect(problems(doc(many))).toContain(`pools: must have at most ${MAX_POOLS} pools`);
    const sites = Array.from({ length: MAX_POOL_SITES + 1 }, (_, i) => ({ ...pool().sites[0], id: `s${i}` }));
    expect(problems(doc([{ ...pool(), sites }]))).toContain(
      `pools[0].sites: must have at most ${MAX_POOL_SITES} sites`,
    );
    expect(problems(doc([{ ...pool(), desired: MAX_POOL_DESIRED + 1 }]))).toContain(
      `pools[0].desired: must be at most ${MAX_POOL_DESIRED}`,
    );
    const p = pool();
    expect(problems(doc([{ ...p, sites: [{ ...p.sites[0], group: 'x'.repeat(1025) }] }]))).toContain(
      'pools[0].sites[0].group: must be at most 1024 characters',
    );
    expect(problems(doc([{ ...p, sites: [] }]))).toEqual([expect.stringMatching(/^pools\[0\]\.sites: /)]);
  });

  it('refuses duplicate pool ids, duplicate site ids within a pool and a min above the cap', () => {
    const p = pool();
    const twin = { ...p, sites: [p.sites[0], { ...p.sites[1], id: 'weu-1', min: 9 }] };
    expect(problems(doc([p, twin]))).toEqual(
      expect.arrayContaining([
        'pools[1].id: duplicate pool id "gpu-workers"',
        'pools[1].sites[1].id: duplicate site id "weu-1" in this pool',
        'pools[1].sites[1].min: must be at most cap (8)',
      ]),
    );
    // The same site id in two pools is fine.
    expect(problems(doc([p, { ...p, id: 'other' }]))).toEqual([]);
  });

  it("checks the group against the site's cloud", () => {
    const p = pool();
    const swapped = {
      ...p,
      sites: [
        { ...p.sites[0], group: p.sites[2]!.group },
        { ...p.sites[2], group: vmss('x') },
        { ...p.sites[2], id: 'compartment', group: 'ocid1.compartment.oc1..aaaacccc' },
      ],
    };
    expect(problems(doc([swapped]))).toEqual([
      'pools[0].sites[0].group: must be an Azure VM scale set resource id on an azure site',
      'pools[0].sites[1].group: must be an OCI instance pool or compartment OCID (at most 255 characters) on an oci site',
    ]);
  });

  it('lists the pool rules even when another field of the document is invalid', () => {
    const p = pool();
    const input = { ...doc([p, p]), kind: 'nonsense' };
    expect(problems(input)).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^kind: /),
        'pools[1].id: duplicate pool id "gpu-workers"',
      ]),
    );
  });

  it('does not require the minimums to fit the desired count', () => {
    const p = pool();
    const result = parseClusterDocument(
      doc([{ ...p, desired: 1, sites: p.sites.map((s) => ({ ...s, min: 2 })) }]),
    );
    expect(result.ok).toBe(true);
  });
});
