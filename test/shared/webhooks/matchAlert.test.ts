import { readFileSync } from 'node:fs';
import path from 'node:path';
import { clusterDocumentSchema, type ClusterDocument } from '../../../shared/domain/clusterDocument';
import { parseAzureMonitorAlert, type NormalizedAlert } from '../../../shared/webhooks/azureMonitor';
import { matchAlert, type ClusterView } from '../../../shared/webhooks/matchAlert';

const fixture = (name: string): any =>
  JSON.parse(readFileSync(path.join(__dirname, '../../fixtures/alerts', `${name}.json`), 'utf8'));

function alertFrom(body: unknown): NormalizedAlert {
  const outcome = parseAzureMonitorAlert(body);
  if (!outcome.ok) throw new Error(`${outcome.code}: ${outcome.message}`);
  return outcome.alert;
}
const alert = (name: string) => alertFrom(fixture(name));

const SUB = '11111111-1111-1111-1111-111111111111';
/** As an operator writes them in a cluster document: the portal's letter case, unlike the alerts' lowercase. */
const vm = (name: string) =>
  `/subscriptions/${SUB}/resourceGroups/HPC-RG/providers/Microsoft.Compute/virtualMachines/${name}`;

type Site = { cloud: 'azure' | 'oci' | 'on-prem'; region: string };
const node = (id: string, site: Site, compute: unknown, role: 'active' | 'standby' = 'standby') => ({
  id,
  role,
  site,
  compute,
});

/** hpc-1: head-a in West Europe, head-b in North Europe (the VMs the fixtures' alerts are about). */
const hpc1: ClusterDocument = clusterDocumentSchema.parse({
  id: 'hpc-1',
  kind: 'active-passive',
  nodes: [
    node(
      'head-a',
      { cloud: 'azure', region: 'westeurope' },
      { kind: 'azure-vm', resourceId: vm('head-a') },
      'active',
    ),
    node('head-b', { cloud: 'azure', region: 'northeurope' }, { kind: 'azure-vm', resourceId: vm('head-b') }),
  ],
});

/** gpu-2: an Azure node written with the region's display name, and an OCI standby. */
const gpu2: ClusterDocument = clusterDocumentSchema.parse({
  id: 'gpu-2',
  kind: 'two-node-witness',
  nodes: [
    node('gpu-az', { cloud: 'azure', region: 'UK South' }, { kind: 'none' }, 'active'),
    node(
      'gpu-oci',
      { cloud: 'oci', region: 'uk-london-1' },
      { kind: 'oci-instance', ocid: 'ocid1.instance.oc1.uk-london-1.abcdefgh' },
    ),
  ],
});

/** batch-3: nothing the fixtures' alerts are about. */
const batch3: ClusterDocument = clusterDocumentSchema.parse({
  id: 'batch-3',
  kind: 'active-passive',
  nodes: [
    node('b1', { cloud: 'azure', region: 'eastus2' }, { kind: 'azure-vm', resourceId: vm('b1') }, 'active'),
    node('b2', { cloud: 'azure', region: 'centralus' }, { kind: 'azure-vm', resourceId: vm('b2') }),
  ],
});

const view = (document: ClusterDocument, activeNodeId: string): ClusterView => ({ document, activeNodeId });
const fleet = (hpc1Active = 'head-a') => [view(batch3, 'b1'), view(hpc1, hpc1Active), view(gpu2, 'gpu-az')];

describe('an alert about a VM', () => {
  test("a fired metric alert on the active's VM triggers a failover of its cluster only", () => {
    expect(matchAlert(alert('metric-vm-fired'), fleet())).toEqual({
      matches: [{ clusterId: 'hpc-1', reason: 'active-vm-alert', nodeIds: ['head-a'], triggers: true }],
      impactedRegions: [],
    });
  });

  test('the same alert once head-b is the active (the state, not the document role, says who) does not trigger', () => {
    expect(matchAlert(alert('metric-vm-fired'), fleet('head-b')).matches).toEqual([
      { clusterId: 'hpc-1', reason: 'standby-vm-alert', nodeIds: ['head-a'], triggers: false },
    ]);
  });

  test('a log search alert on the standby (ARM id in other letter case) is recorded, not triggering', () => {
    expect(matchAlert(alert('log-search-vm'), fleet()).matches).toEqual([
      { clusterId: 'hpc-1', reason: 'standby-vm-alert', nodeIds: ['head-b'], triggers: false },
    ]);
  });

  test('a workspace log alert split by _ResourceId reaches the VM of the dimension', () => {
    expect(matchAlert(alert('log-search-workspace-dimension'), fleet()).matches).toEqual([
      { clusterId: 'hpc-1', reason: 'active-vm-alert', nodeIds: ['head-a'], triggers: true },
    ]);
  });

  test('the Resolved notification of that alert concerns the active but triggers nothing', () => {
    expect(matchAlert(alert('metric-vm-resolved'), fleet()).matches).toEqual([
      { clusterId: 'hpc-1', reason: 'active-vm-alert', nodeIds: ['head-a'], triggers: false },
    ]);
  });

  test.each([
    ['resource-health-unavailable', true],
    ['resource-health-degraded', true],
    ['resource-health-available', false],
  ])('Resource Health on the active: %s triggers = %s', (name, triggers) => {
    expect(matchAlert(alert(name), fleet()).matches).toEqual([
      { clusterId: 'hpc-1', reason: 'active-vm-alert', nodeIds: ['head-a'], triggers },
    ]);
  });

  test('an administrative event on the active (a restart) is recorded, not triggering', () => {
    expect(matchAlert(alert('activity-log-administrative'), fleet()).matches).toEqual([
      { clusterId: 'hpc-1', reason: 'active-vm-alert', nodeIds: ['head-a'], triggers: false },
    ]);
  });

  test('an alert on an unrelated resource concerns no cluster', () => {
    expect(matchAlert(alert('metric-unrelated-storage'), fleet())).toEqual({
      matches: [],
      impactedRegions: [],
    });
  });

  test('an alert on both VMs of a cluster names both and triggers for the active', () => {
    const body = fixture('metric-vm-fired');
    body.data.essentials.alertTargetIDs.push(vm('head-b'));
    expect(matchAlert(alertFrom(body), fleet('head-b')).matches).toEqual([
      { clusterId: 'hpc-1', reason: 'active-vm-alert', nodeIds: ['head-a', 'head-b'], triggers: true },
    ]);
  });

  test('an active id the document does not know makes every match a standby one', () => {
    expect(matchAlert(alert('metric-vm-fired'), [view(hpc1, 'head-z')]).matches).toEqual([
      { clusterId: 'hpc-1', reason: 'standby-vm-alert', nodeIds: ['head-a'], triggers: false },
    ]);
  });
});

describe('a Service Health incident', () => {
  test("an incident in the active's region triggers and names the regions to avoid", () => {
    // West Europe and UK South are impacted: hpc-1's active is in westeurope, gpu-2's in "UK South".
    expect(matchAlert(alert('service-health-incident'), fleet())).toEqual({
      matches: [
        { clusterId: 'hpc-1', reason: 'active-region-incident', nodeIds: ['head-a'], triggers: true },
        { clusterId: 'gpu-2', reason: 'active-region-incident', nodeIds: ['gpu-az'], triggers: true },
      ],
      impactedRegions: ['westeurope', 'uksouth'],
    });
  });

  test("an incident only in a standby's region is recorded, not triggering", () => {
    const body = fixture('service-health-incident');
    body.data.alertContext.properties.impactedServices = JSON.stringify([
      { ImpactedRegions: [{ RegionName: 'North Europe' }], ServiceName: 'Virtual Machines' },
    ]);
    expect(matchAlert(alertFrom(body), fleet())).toEqual({
      matches: [
        { clusterId: 'hpc-1', reason: 'standby-region-incident', nodeIds: ['head-b'], triggers: false },
      ],
      impactedRegions: ['northeurope'],
    });
  });

  test('an incident over both regions of a cluster triggers for the active and names both nodes', () => {
    const body = fixture('service-health-incident');
    body.data.alertContext.properties.impactedServices = JSON.stringify([
      {
        ImpactedRegions: [{ RegionName: 'North Europe' }, { RegionName: 'West Europe' }],
        ServiceName: 'Compute',
      },
    ]);
    expect(matchAlert(alertFrom(body), [view(hpc1, 'head-b')]).matches).toEqual([
      { clusterId: 'hpc-1', reason: 'active-region-incident', nodeIds: ['head-a', 'head-b'], triggers: true },
    ]);
  });

  test('an OCI node is never concerned, even in a region spelt like an impacted one', () => {
    const body = fixture('service-health-incident');
    body.data.alertContext.properties.impactedServices = JSON.stringify([
      { ImpactedRegions: [{ RegionName: 'uk-london-1' }], ServiceName: 'Virtual Machines' },
    ]);
    expect(matchAlert(alertFrom(body), fleet()).matches).toEqual([]);
  });

  test('maintenance in the active region is recorded but does not trigger, and names no region to avoid', () => {
    const body = fixture('service-health-incident');
    body.data.alertContext.properties.incidentType = 'Maintenance';
    expect(matchAlert(alertFrom(body), fleet())).toEqual({
      matches: [
        { clusterId: 'hpc-1', reason: 'active-region-incident', nodeIds: ['head-a'], triggers: false },
        { clusterId: 'gpu-2', reason: 'active-region-incident', nodeIds: ['gpu-az'], triggers: false },
      ],
      impactedRegions: [],
    });
  });

  test("the portal's test payload (Global) concerns no cluster, even with its incident made active", () => {
    const body = fixture('service-health-test-action-group');
    expect(matchAlert(alertFrom(body), fleet())).toEqual({ matches: [], impactedRegions: [] });
    body.data.alertContext.properties.stage = 'Active';
    body.data.alertContext.status = 'Active';
    expect(matchAlert(alertFrom(body), fleet())).toEqual({ matches: [], impactedRegions: [] });
  });

  test('regions only count for Service Health: a VM alert carries none to match by region', () => {
    const metric = { ...alert('metric-vm-fired'), targetResourceIds: [], regions: ['westeurope'] };
    expect(matchAlert(metric, fleet()).matches).toEqual([]);
  });
});
