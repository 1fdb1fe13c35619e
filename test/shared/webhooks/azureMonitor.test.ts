import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  normaliseRegion,
  parseAzureMonitorAlert,
  type NormalizedAlert,
} from '../../../shared/webhooks/azureMonitor';

const fixture = (name: string): any =>
  JSON.parse(readFileSync(path.join(__dirname, '../../fixtures/alerts', `${name}.json`), 'utf8'));

const SUB = '11111111-1111-1111-1111-111111111111';
const HEAD_A = `/subscriptions/${SUB}/resourcegroups/hpc-rg/providers/microsoft.compute/virtualmachines/head-a`;
const HEAD_B = `/subscriptions/${SUB}/resourcegroups/hpc-rg/providers/microsoft.compute/virtualmachines/head-b`;

function parsed(body: unknown): NormalizedAlert {
  const outcome = parseAzureMonitorAlert(body);
  if (!outcome.ok) throw new Error(`expected the alert to parse: ${outcome.code}: ${outcome.message}`);
  return outcome.alert;
}

function refused(body: unknown) {
  const outcome = parseAzureMonitorAlert(body);
  if (outcome.ok) throw new Error(`expected a refusal, got ${JSON.stringify(outcome.alert)}`);
  return outcome;
}

describe('metric and log search alerts on VMs', () => {
  test('a fired metric alert on a VM says that VM is down, with its id lowercased and a dedupe key', () => {
    const alert = parsed(fixture('metric-vm-fired'));
    expect(alert).toEqual({
      alertId: `/subscriptions/${SUB}/providers/Microsoft.AlertsManagement/alerts/a1b2c3d4-0001-4000-8000-000000000001`,
      condition: 'Fired',
      kind: 'metric',
      severity: 'Sev1',
      alertRule: 'head-a-availability',
      firedAt: '2026-11-30T10:00:24.371Z',
      description: 'Head node VM availability dropped',
      summary: 'VmAvailabilityMetric = 0 (LessThan 1)',
      targetResourceIds: [HEAD_A],
      regions: [],
      services: [],
      down: true,
      dedupeKey: `/subscriptions/${SUB}/providers/Microsoft.AlertsManagement/alerts/a1b2c3d4-0001-4000-8000-000000000001:Fired`,
    });
  });

  test('the Resolved notification of the same alert is not down and has its own dedupe key', () => {
    const fired = parsed(fixture('metric-vm-fired'));
    const resolved = parsed(fixture('metric-vm-resolved'));
    expect(resolved.alertId).toBe(fired.alertId);
    expect(resolved.condition).toBe('Resolved');
    expect(resolved.down).toBe(false);
    expect(resolved.dedupeKey).not.toBe(fired.dedupeKey);
    expect(resolved.dedupeKey).toBe(`${fired.alertId}:Resolved`);
  });

  test('a log search alert scoped to a VM targets it, whatever the letter case of the ARM id', () => {
    const alert = parsed(fixture('log-search-vm'));
    expect(alert.kind).toBe('log');
    expect(alert.severity).toBe('Sev0');
    expect(alert.down).toBe(true);
    expect(alert.targetResourceIds).toEqual([HEAD_B]);
  });

  test('a log search alert on a workspace, split by _ResourceId, targets the VM named in the dimension too', () => {
    const alert = parsed(fixture('log-search-workspace-dimension'));
    expect(alert.targetResourceIds).toEqual([
      `/subscriptions/${SUB}/resourcegroups/hpc-rg/providers/microsoft.operationalinsights/workspaces/hpc-logs`,
      HEAD_A,
    ]);
  });

  test('a dimension that is not an ARM id (a metric ResourceId GUID) is not taken for a target', () => {
    const body = fixture('log-search-workspace-dimension');
    body.data.alertContext.condition.allOf[0].dimensions = [
      { name: 'ResourceId', value: '3efad9dc-3d50-4eac-9c87-8b3fd6f97e4e' },
      { name: 'Computer', value: 'head-a' },
    ];
    expect(parsed(body).targetResourceIds).toHaveLength(1);
  });

  test('an alert on an unrelated resource parses with that resource as its target', () => {
    const alert = parsed(fixture('metric-unrelated-storage'));
    expect(alert.targetResourceIds).toEqual([
      `/subscriptions/${SUB}/resourcegroups/web-rg/providers/microsoft.storage/storageaccounts/webassets`,
    ]);
  });
});

describe('Resource Health', () => {
  test.each([
    [
      'resource-health-unavailable',
      true,
      'Resource Health: Available → Unavailable (Downtime, PlatformInitiated)',
    ],
    ['resource-health-degraded', true, 'Resource Health: Available → Degraded (Downtime, PlatformInitiated)'],
    [
      'resource-health-available',
      false,
      'Resource Health: Unavailable → Available (Downtime, PlatformInitiated)',
    ],
  ])('%s: down is %s', (name, down, summary) => {
    const alert = parsed(fixture(name));
    expect(alert.kind).toBe('resource-health');
    expect(alert.down).toBe(down);
    expect(alert.summary.startsWith(summary)).toBe(true);
    expect(alert.targetResourceIds).toEqual([HEAD_A]);
  });

  test('is recognised by monitoringService when eventSource is a number', () => {
    const body = fixture('resource-health-unavailable');
    body.data.alertContext.eventSource = 1;
    body.data.alertContext.channels = 1;
    body.data.alertContext.level = 2;
    const alert = parsed(body);
    expect(alert.kind).toBe('resource-health');
    expect(alert.down).toBe(true);
  });

  test('without a currentHealthStatus it is refused, naming the path', () => {
    const body = fixture('resource-health-unavailable');
    delete body.data.alertContext.properties.currentHealthStatus;
    const refusal = refused(body);
    expect(refusal).toMatchObject({
      kind: 'invalid',
      code: 'InvalidAlertField',
      details: { path: 'data.alertContext.properties.currentHealthStatus' },
    });
    expect(refusal.message).toContain('data.alertContext.properties.currentHealthStatus');
  });
});

describe('Service Health', () => {
  test('a real incident: impactedServices is a JSON string, parsed again into normalised regions', () => {
    const alert = parsed(fixture('service-health-incident'));
    expect(alert.kind).toBe('service-health');
    expect(alert.down).toBe(true);
    expect(alert.regions).toEqual(['westeurope', 'uksouth']);
    expect(alert.services).toEqual(['Virtual Machines', 'Storage']);
    expect(alert.targetResourceIds).toEqual([`/subscriptions/${SUB}`]);
    // firedDateTime without a zone is UTC
    expect(alert.firedAt).toBe('2026-11-30T10:05:48.062Z');
    expect(alert.summary).toBe(
      'Service Health Incident (Active): Virtual Machines - West Europe - Connectivity issues',
    );
  });

  test("the portal's test payload: impactedServices an array, channels/eventSource/level numbers, signalType ActivityLog", () => {
    const body = fixture('service-health-test-action-group');
    expect(Array.isArray(body.data.alertContext.properties.impactedServices)).toBe(true);
    expect(typeof body.data.alertContext.eventSource).toBe('number');
    const alert = parsed(body);
    expect(alert.kind).toBe('service-health');
    expect(alert.regions).toEqual(['global']);
    // The test incident is at stage Resolved: it says nothing is down, so a test click starts no failover.
    expect(alert.down).toBe(false);
  });

  test('the same test payload with the incident active is down', () => {
    const body = fixture('service-health-test-action-group');
    body.data.alertContext.properties.stage = 'Active';
    body.data.alertContext.status = 'Active';
    expect(parsed(body).down).toBe(true);
  });

  test('string and array impactedServices read the same', () => {
    const asString = fixture('service-health-incident');
    const asArray = fixture('service-health-incident');
    asArray.data.alertContext.properties.impactedServices = JSON.parse(
      asArray.data.alertContext.properties.impactedServices,
    );
    expect(parsed(asArray)).toEqual(parsed(asString));
  });

  test.each(['Maintenance', 'Informational', 'ActionRequired', 'Security'])(
    'a %s event is recorded but not down',
    (incidentType) => {
      const body = fixture('service-health-incident');
      body.data.alertContext.properties.incidentType = incidentType;
      expect(parsed(body).down).toBe(false);
    },
  );

  test.each(['Resolved', 'RCA'])('an incident at stage %s is not down', (stage) => {
    const body = fixture('service-health-incident');
    body.data.alertContext.properties.stage = stage;
    expect(parsed(body).down).toBe(false);
  });

  test('with no impactedServices, the region property gives the regions', () => {
    const body = fixture('service-health-incident');
    delete body.data.alertContext.properties.impactedServices;
    body.data.alertContext.properties.region = 'West Europe, North Europe';
    expect(parsed(body).regions).toEqual(['westeurope', 'northeurope']);
  });

  test('impactedServices that is not JSON is refused, naming the path', () => {
    const body = fixture('service-health-incident');
    body.data.alertContext.properties.impactedServices = '[{"ImpactedRegions":';
    expect(refused(body)).toMatchObject({
      kind: 'invalid',
      code: 'InvalidAlertField',
      details: { path: 'data.alertContext.properties.impactedServices' },
    });
  });

  test('a region entry without a RegionName is refused, naming its index', () => {
    const body = fixture('service-health-incident');
    body.data.alertContext.properties.impactedServices = JSON.stringify([
      { ImpactedRegions: [{ RegionName: 'West Europe' }, { Name: 'x' }], ServiceName: 'Virtual Machines' },
    ]);
    expect(refused(body).details).toEqual({
      path: 'data.alertContext.properties.impactedServices[0].ImpactedRegions[1].RegionName',
    });
  });
});

describe('other activity-log alerts', () => {
  test('an administrative event (a VM restarted) is recorded with its target but never says down', () => {
    const alert = parsed(fixture('activity-log-administrative'));
    expect(alert.kind).toBe('activity-log');
    expect(alert.down).toBe(false);
    expect(alert.targetResourceIds).toEqual([HEAD_A]);
    expect(alert.summary).toBe('Microsoft.Compute/virtualMachines/restart/action (Succeeded)');
  });

  test.each(['Activity Log', 'ActivityLog', 'activity log'])(
    'signalType %j is an activity-log signal',
    (signalType) => {
      const body = fixture('resource-health-unavailable');
      body.data.essentials.signalType = signalType;
      expect(parsed(body).kind).toBe('resource-health');
    },
  );
});

describe('what is refused', () => {
  test('the legacy activity-log schema, naming what was seen and what to enable', () => {
    const refusal = refused(fixture('legacy-activity-log'));
    expect(refusal.kind).toBe('unprocessable');
    expect(refusal.code).toBe('UnsupportedAlertSchema');
    expect(refusal.message).toContain('data.context.activityLog');
    expect(refusal.message).toContain('Microsoft.Insights/activityLogs');
    expect(refusal.message).toContain('"ServiceHealth"');
    expect(refusal.message).toContain('azureMonitorCommonAlertSchema');
  });

  test('a budget notification names its schemaId', () => {
    const refusal = refused(fixture('budget'));
    expect(refusal.code).toBe('UnsupportedAlertSchema');
    expect(refusal.message).toContain('"AIP Budget Notification"');
  });

  test('a body with no schemaId lists the fields it has', () => {
    const refusal = refused({ WebhookName: 'Alert1', RequestBody: {} });
    expect(refusal.code).toBe('UnsupportedAlertSchema');
    expect(refusal.message).toContain('"WebhookName", "RequestBody"');
  });

  test.each([null, 'a string', 42, [1, 2], undefined])('a body that is not an object (%p)', (body) => {
    expect(refused(body)).toMatchObject({ kind: 'invalid', code: 'InvalidAlertBody' });
  });

  test('an unknown signalType', () => {
    const body = fixture('metric-vm-fired');
    body.data.essentials.signalType = 'Smoke Signal';
    expect(refused(body)).toMatchObject({ kind: 'unprocessable', code: 'UnsupportedSignalType' });
  });

  test.each([
    ['alertId', undefined, 'data.essentials.alertId'],
    ['alertId', 7, 'data.essentials.alertId'],
    ['monitorCondition', 'Exploded', 'data.essentials.monitorCondition'],
    ['firedDateTime', 'yesterday', 'data.essentials.firedDateTime'],
    ['severity', null, 'data.essentials.severity'],
    ['alertTargetIDs', 'not-a-list', 'data.essentials.alertTargetIDs'],
    ['alertTargetIDs', [HEAD_A, 3], 'data.essentials.alertTargetIDs[1]'],
    ['description', { text: 'x' }, 'data.essentials.description'],
  ])('essentials.%s = %p is refused as invalid at %s', (field, value, expectedPath) => {
    const body = fixture('metric-vm-fired');
    if (value === undefined) delete body.data.essentials[field];
    else body.data.essentials[field] = value;
    const refusal = refused(body);
    expect(refusal).toMatchObject({
      kind: 'invalid',
      code: 'InvalidAlertField',
      details: { path: expectedPath },
    });
    expect(refusal.message.startsWith(expectedPath)).toBe(true);
  });

  test('data.essentials missing', () => {
    const body = fixture('metric-vm-fired');
    delete body.data.essentials;
    expect(refused(body).details).toEqual({ path: 'data.essentials' });
  });

  test('a long hostile value is cut in the message, not echoed whole', () => {
    const body = fixture('metric-vm-fired');
    body.data.essentials.firedDateTime = 'x'.repeat(100_000);
    expect(refused(body).message.length).toBeLessThan(300);
  });

  test('nothing a body can contain makes the parser throw', () => {
    const shapes: unknown[] = [
      { schemaId: 'azureMonitorCommonAlertSchema' },
      { schemaId: 'azureMonitorCommonAlertSchema', data: [] },
      { schemaId: 'azureMonitorCommonAlertSchema', data: { essentials: {}, alertContext: 5 } },
      { schemaId: 7 },
      { data: { context: { activityLog: null } } },
      Object.create(null),
    ];
    for (const name of ['metric-vm-fired', 'service-health-incident', 'resource-health-degraded']) {
      const base = fixture(name);
      for (const key of Object.keys(base.data.alertContext)) {
        for (const value of [null, 1, 'x', [], {}]) {
          const body = fixture(name);
          body.data.alertContext[key] = value;
          shapes.push(body);
          const props = fixture(name);
          if (props.data.alertContext.properties) {
            for (const p of Object.keys(props.data.alertContext.properties)) {
              const b = fixture(name);
              b.data.alertContext.properties[p] = value;
              shapes.push(b);
            }
          }
        }
      }
    }
    for (const body of shapes) expect(() => parseAzureMonitorAlert(body)).not.toThrow();
  });
});

test('normaliseRegion turns display names into region names', () => {
  expect(normaliseRegion('West Europe')).toBe('westeurope');
  expect(normaliseRegion(' East US 2 ')).toBe('eastus2');
  expect(normaliseRegion('westeurope')).toBe('westeurope');
});
