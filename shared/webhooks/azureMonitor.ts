import { refuse, type Outcome, type Refusal } from '../control/common/outcome';

/**
 * Azure Monitor alerts as action groups POST them, read into one shape the failover trigger can act on. Pure: the
 * caller has already parsed the body as JSON (and bounded its size: Azure sends at most 256 KB); nothing here throws.
 *
 * Understood: the common alert schema (`schemaId: "azureMonitorCommonAlertSchema"`, `data.essentials`,
 * `data.alertContext`) for metric alerts, log search alerts, Resource Health and Service Health (and other
 * activity-log alerts, which are recorded but never say that something is down). Refused with a stable code: the
 * legacy schemas (activity log `data.context.activityLog`, the old metric and log alert schemas, budgets) and any
 * other shape, naming what was seen.
 */

export type AlertKind = 'metric' | 'log' | 'resource-health' | 'service-health' | 'activity-log';
export type AlertCondition = 'Fired' | 'Resolved';

export interface NormalizedAlert {
  /** `essentials.alertId`: the alert instance's ARM id (the same for its Fired and its Resolved notification). */
  alertId: string;
  condition: AlertCondition;
  kind: AlertKind;
  /** As Azure sent it: `Sev0`…`Sev4` (Sev0 is the most severe); other values are kept, not refused. */
  severity: string;
  /** `essentials.alertRule`, or '' when absent. */
  alertRule: string;
  /** `essentials.firedDateTime` as an ISO-8601 UTC string (Azure's times without a zone are UTC). */
  firedAt: string;
  /** `essentials.description` ('' when null or absent). */
  description: string;
  /** One line on what the alert says (health transition, incident title, metric and value), for the audit. */
  summary: string;
  /** ARM ids the alert is about, lowercased (ARM ids are case-insensitive): `alertTargetIDs` and `_ResourceId`
   * dimensions of log search alerts split by resource. */
  targetResourceIds: string[];
  /** Impacted Azure regions (Service Health), normalised with `normaliseRegion` ("West Europe" → "westeurope"). */
  regions: string[];
  /** Impacted services (Service Health `ServiceName`s), as sent. */
  services: string[];
  /**
   * Whether the alert says something is down now: a fired metric or log alert (the operator wired that rule to this
   * webhook as a failure signal); Resource Health reporting Unavailable or Degraded; an active Service Health
   * incident. Never for a Resolved alert, a return to Available, maintenance or advisories, or other activity-log
   * events.
   */
  down: boolean;
  /** `${alertId}:${condition}`: action groups retry, so the same notification can arrive several times. */
  dedupeKey: string;
}

export type AlertRefusalCode =
  /** The body is not a JSON object. */
  | 'InvalidAlertBody'
  /** A schema other than the common alert schema (legacy activity log, old metric/log alerts, budgets, unknown). */
  | 'UnsupportedAlertSchema'
  /** A field of the common schema is missing or of the wrong type; `details.path` names it. */
  | 'InvalidAlertField'
  /** `essentials.signalType` is none of Metric, Log, Activity Log. */
  | 'UnsupportedSignalType';

export const COMMON_ALERT_SCHEMA_ID = 'azureMonitorCommonAlertSchema';

/** Azure region display names and names alike: "West Europe", "westeurope", " East US 2 " → "westeurope", "eastus2". */
export function normaliseRegion(region: string): string {
  return region.trim().toLowerCase().replace(/\s+/g, '');
}

type Json = Record<string, unknown>;

const isObject = (value: unknown): value is Json =>
  typeof value === 'object' && value !== null && !Array.isArray(value);

/** `a`, `b`: shows at most `max` names, each cut to 40 characters, so a refusal stays short whatever arrived. */
function listNames(names: readonly string[], max = 8): string {
  const shown = names.slice(0, max).map((n) => JSON.stringify(n.length > 40 ? `${n.slice(0, 40)}…` : n));
  return shown.length === 0
    ? '(none)'
    : `${shown.join(', ')}${names.length > max ? ` and ${names.length - max} more` : ''}`;
}

const describeValue = (value: unknown): string =>
  value === null
    ? 'null'
    : Array.isArray(value)
      ? 'an array'
      : typeof value === 'string'
        ? `the string ${JSON.stringify(value.length > 60 ? `${value.slice(0, 60)}…` : value)}`
        : typeof value === 'object'
          ? 'an object'
          : typeof value === 'number' || typeof value === 'boolean'
            ? `${typeof value} ${value}`
            : typeof value;

const fieldProblem = (path: string, expected: string, value: unknown): Refusal<AlertRefusalCode> =>
  refuse(
    'invalid',
    'InvalidAlertField',
    `${path} must be ${expected}; found ${value === undefined ? 'nothing' : describeValue(value)}`,
    { path },
  );

const unsupported = (message: string, seen: string): Refusal<AlertRefusalCode> =>
  refuse('unprocessable', 'UnsupportedAlertSchema', message, { seen });

/** Letters only, lowercased: "Activity Log", "ActivityLog" and "activity-log" compare equal. */
const squash = (value: string): string => value.toLowerCase().replace(/[^a-z0-9]/g, '');

/** What a legacy or unknown body is, for the refusal. */
function unsupportedSchema(body: Json): Refusal<AlertRefusalCode> {
  const schemaId = body.schemaId;
  const data = isObject(body.data) ? body.data : undefined;
  const context = data && isObject(data.context) ? data.context : undefined;
  if (context && isObject(context.activityLog)) {
    const source = context.activityLog.eventSource;
    return unsupported(
      'legacy activity-log alert schema (data.context.activityLog' +
        (typeof schemaId === 'string' ? `, schemaId ${JSON.stringify(schemaId)}` : '') +
        (typeof source === 'string' || typeof source === 'number'
          ? `, eventSource ${JSON.stringify(source)}`
          : '') +
        `): enable the common alert schema ("${COMMON_ALERT_SCHEMA_ID}") on the action group's webhook`,
      'data.context.activityLog',
    );
  }
  if (typeof schemaId === 'string') {
    return unsupported(
      `schemaId ${JSON.stringify(schemaId.slice(0, 80))} is not understood: only "${COMMON_ALERT_SCHEMA_ID}" is ` +
        '(enable the common alert schema on the action group)',
      `schemaId ${schemaId.slice(0, 80)}`,
    );
  }
  if (schemaId !== undefined) {
    return unsupported(
      `schemaId must be the string "${COMMON_ALERT_SCHEMA_ID}"; found ${describeValue(schemaId)}`,
      'schemaId',
    );
  }
  const keys = Object.keys(body);
  return unsupported(
    `not an Azure Monitor common alert: no schemaId; top-level fields ${listNames(keys)}` +
      (data ? `; data has ${listNames(Object.keys(data))}` : ''),
    `fields ${keys.slice(0, 8).join(',')}`,
  );
}

const requiredString = (obj: Json, key: string, path: string): string | Refusal<AlertRefusalCode> => {
  const value = obj[key];
  return typeof value === 'string' && value.trim() !== ''
    ? value
    : fieldProblem(`${path}.${key}`, 'a non-empty string', value);
};

const optionalString = (value: unknown): string | undefined =>
  typeof value === 'string' && value.trim() !== '' ? value : undefined;

/** Azure's times: ISO-8601 with up to 7 fractional digits; a time without a zone is UTC (Service Health sends some). */
function parseAzureTime(value: string): number | undefined {
  const match = /^(\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2})(?:\.(\d+))?(Z|[+-]\d{2}:\d{2})?$/i.exec(value.trim());
  if (!match) return undefined;
  const [, base, fraction, zone] = match;
  const millis = fraction === undefined ? '' : `.${fraction.slice(0, 3).padEnd(3, '0')}`;
  const ms = Date.parse(`${base}${millis}${zone === undefined ? 'Z' : zone.toUpperCase()}`);
  return Number.isFinite(ms) ? ms : undefined;
}

const ARM_ID = /^\/subscriptions\/[^/]+(\/.*)?$/i;

/** `condition.allOf[].dimensions[]` values named `_ResourceId` (log search alerts split by resource) that are ARM ids. */
function dimensionResourceIds(alertContext: Json): string[] {
  const condition = isObject(alertContext.condition) ? alertContext.condition : undefined;
  const allOf = condition && Array.isArray(condition.allOf) ? condition.allOf : [];
  const ids: string[] = [];
  for (const criterion of allOf) {
    if (!isObject(criterion) || !Array.isArray(criterion.dimensions)) continue;
    for (const dimension of criterion.dimensions) {
      if (!isObject(dimension) || typeof dimension.name !== 'string' || typeof dimension.value !== 'string')
        continue;
      if (squash(dimension.name) === 'resourceid' && ARM_ID.test(dimension.value)) ids.push(dimension.value);
    }
  }
  return ids;
}

function metricSummary(alertContext: Json): string {
  const condition = isObject(alertContext.condition) ? alertContext.condition : undefined;
  const first: unknown = condition && Array.isArray(condition.allOf) ? condition.allOf[0] : undefined;
  if (!isObject(first)) return '';
  const name = optionalString(first.metricName) ?? optionalString(first.searchQuery);
  if (name === undefined) return '';
  const value = typeof first.metricValue === 'number' ? ` = ${first.metricValue}` : '';
  const operator = optionalString(first.operator);
  const threshold =
    typeof first.threshold === 'string' || typeof first.threshold === 'number' ? String(first.threshold) : '';
  return `${name}${value}${operator && threshold !== '' ? ` (${operator} ${threshold})` : ''}`.slice(0, 300);
}

interface ImpactedServices {
  regions: string[];
  services: string[];
}

const IMPACTED_SERVICES_PATH = 'data.alertContext.properties.impactedServices';

/**
 * `impactedServices`: a JSON-encoded string in real Service Health events, an array in the portal's test payload;
 * `[{ ImpactedRegions: [{ RegionName }], ServiceName }]` either way.
 */
function impactedServices(value: unknown): ImpactedServices | Refusal<AlertRefusalCode> {
  if (value === undefined || value === null || value === '') return { regions: [], services: [] };
  let list: unknown = value;
  if (typeof value === 'string') {
    try {
      list = JSON.parse(value) as unknown;
    } catch {
      return fieldProblem(IMPACTED_SERVICES_PATH, 'a JSON-encoded array (or an array)', value);
    }
  }
  if (!Array.isArray(list)) return fieldProblem(IMPACTED_SERVICES_PATH, 'an array', list);
  const regions: string[] = [];
  const services: string[] = [];
  for (const [i, entry] of list.entries()) {
    if (!isObject(entry)) return fieldProblem(`${IMPACTED_SERVICES_PATH}[${i}]`, 'an object', entry);
    const serviceName = optionalString(entry.ServiceName);
    if (serviceName !== undefined && !services.includes(serviceName)) services.push(serviceName);
    const impacted = entry.ImpactedRegions;
    if (impacted === undefined || impacted === null) continue;
    if (!Array.isArray(impacted))
      return fieldProblem(`${IMPACTED_SERVICES_PATH}[${i}].ImpactedRegions`, 'an array', impacted);
    for (const [j, region] of impacted.entries()) {
      const name = isObject(region) ? optionalString(region.RegionName) : undefined;
      if (name === undefined)
        return fieldProblem(
          `${IMPACTED_SERVICES_PATH}[${i}].ImpactedRegions[${j}].RegionName`,
          'a non-empty string',
          isObject(region) ? region.RegionName : region,
        );
      const normalised = normaliseRegion(name);
      if (!regions.includes(normalised)) regions.push(normalised);
    }
  }
  return { regions, services };
}

/**
 * Which activity-log alert this is. `eventSource` is a name in most kinds ("ResourceHealth", "ServiceHealth",
 * "Administrative") but a number in Service Health (2 in the portal's test payload, "2" after some relays), so
 * `monitoringService` ("ServiceHealth", "Resource Health") and `operationName` ("Microsoft.ServiceHealth/…",
 * "Microsoft.Resourcehealth/…") decide when it is not a name.
 */
function activityLogKind(essentials: Json, alertContext: Json): AlertKind {
  const names = [alertContext.eventSource, essentials.monitoringService]
    .filter((v): v is string => typeof v === 'string')
    .map(squash);
  const operation =
    typeof alertContext.operationName === 'string' ? alertContext.operationName.toLowerCase() : '';
  if (names.includes('resourcehealth') || operation.startsWith('microsoft.resourcehealth/'))
    return 'resource-health';
  if (names.includes('servicehealth') || operation.startsWith('microsoft.servicehealth/'))
    return 'service-health';
  return 'activity-log';
}

const DOWN_HEALTH = new Set(['unavailable', 'degraded']);

interface KindReading {
  down: boolean;
  summary: string;
  regions: string[];
  services: string[];
}

function readResourceHealth(alertContext: Json, fired: boolean): KindReading | Refusal<AlertRefusalCode> {
  const path = 'data.alertContext.properties';
  if (!isObject(alertContext.properties)) return fieldProblem(path, 'an object', alertContext.properties);
  const properties = alertContext.properties;
  const current = requiredString(properties, 'currentHealthStatus', path);
  if (typeof current !== 'string') return current;
  const previous = optionalString(properties.previousHealthStatus);
  const extra = [optionalString(properties.type), optionalString(properties.cause)].filter(
    (v): v is string => v !== undefined,
  );
  const title = optionalString(properties.title);
  return {
    down: fired && DOWN_HEALTH.has(current.toLowerCase()),
    summary:
      `Resource Health: ${previous ?? '?'} → ${current}` +
      (extra.length > 0 ? ` (${extra.join(', ')})` : '') +
      (title !== undefined ? `: ${title}` : ''),
    regions: [],
    services: [],
  };
}

/** Incident stages that are over: the incident is no longer something to fail over from. */
const PAST_STAGES = new Set(['resolved', 'rca', 'complete', 'closed']);

function readServiceHealth(alertContext: Json, fired: boolean): KindReading | Refusal<AlertRefusalCode> {
  const path = 'data.alertContext.properties';
  if (!isObject(alertContext.properties)) return fieldProblem(path, 'an object', alertContext.properties);
  const properties = alertContext.properties;
  const impacted = impactedServices(properties.impactedServices);
  if ('ok' in impacted) return impacted;
  let regions = impacted.regions;
  const region = optionalString(properties.region);
  if (regions.length === 0 && region !== undefined) {
    regions = [
      ...new Set(
        region
          .split(',')
          .map(normaliseRegion)
          .filter((r) => r !== ''),
      ),
    ];
  }
  const incidentType = optionalString(properties.incidentType) ?? '';
  const stage = optionalString(properties.stage) ?? optionalString(alertContext.status);
  const ongoing = stage === undefined || !PAST_STAGES.has(squash(stage));
  const title = optionalString(properties.title) ?? '';
  return {
    down: fired && squash(incidentType) === 'incident' && ongoing,
    summary: (
      `Service Health ${incidentType || 'event'}${stage !== undefined ? ` (${stage})` : ''}` +
      (title !== '' ? `: ${title}` : '')
    ).slice(0, 300),
    regions,
    services: impacted.services,
  };
}

/**
 * Reads an Azure Monitor alert webhook body (already parsed from JSON). Answers the normalised alert, or a refusal:
 * `InvalidAlertBody` / `InvalidAlertField` (kind `invalid`) when the body or a field of the common schema is not what
 * Azure sends, `UnsupportedAlertSchema` / `UnsupportedSignalType` (kind `unprocessable`) for schemas and signals this
 * does not understand. Never throws.
 */
export function parseAzureMonitorAlert(body: unknown): Outcome<{ alert: NormalizedAlert }, AlertRefusalCode> {
  if (!isObject(body)) {
    return refuse(
      'invalid',
      'InvalidAlertBody',
      `an alert body must be a JSON object; found ${body === undefined ? 'nothing' : describeValue(body)}`,
    );
  }
  if (body.schemaId !== COMMON_ALERT_SCHEMA_ID) return unsupportedSchema(body);
  if (!isObject(body.data)) return fieldProblem('data', 'an object', body.data);
  const { data } = body;
  if (!isObject(data.essentials)) return fieldProblem('data.essentials', 'an object', data.essentials);
  const essentials = data.essentials;
  const alertContext = data.alertContext === undefined || data.alertContext === null ? {} : data.alertContext;
  if (!isObject(alertContext)) return fieldProblem('data.alertContext', 'an object', alertContext);

  const E = 'data.essentials';
  const alertId = requiredString(essentials, 'alertId', E);
  if (typeof alertId !== 'string') return alertId;

  const conditionText = requiredString(essentials, 'monitorCondition', E);
  if (typeof conditionText !== 'string') return conditionText;
  const condition: AlertCondition | undefined =
    squash(conditionText) === 'fired'
      ? 'Fired'
      : squash(conditionText) === 'resolved'
        ? 'Resolved'
        : undefined;
  if (condition === undefined)
    return fieldProblem(`${E}.monitorCondition`, '"Fired" or "Resolved"', conditionText);

  const signalType = requiredString(essentials, 'signalType', E);
  if (typeof signalType !== 'string') return signalType;

  const severity = requiredString(essentials, 'severity', E);
  if (typeof severity !== 'string') return severity;

  const firedText = requiredString(essentials, 'firedDateTime', E);
  if (typeof firedText !== 'string') return firedText;
  const firedMs = parseAzureTime(firedText);
  if (firedMs === undefined)
    return fieldProblem(`${E}.firedDateTime`, 'an ISO-8601 date and time', firedText);

  const targets = essentials.alertTargetIDs ?? [];
  if (!Array.isArray(targets)) return fieldProblem(`${E}.alertTargetIDs`, 'an array of ARM ids', targets);
  const targetIds: string[] = [];
  for (const [i, target] of targets.entries()) {
    if (typeof target !== 'string' || target.trim() === '')
      return fieldProblem(`${E}.alertTargetIDs[${i}]`, 'a non-empty string', target);
    targetIds.push(target);
  }

  const description = essentials.description;
  if (description !== undefined && description !== null && typeof description !== 'string')
    return fieldProblem(`${E}.description`, 'a string or null', description);

  const fired = condition === 'Fired';
  let kind: AlertKind;
  let reading: KindReading | Refusal<AlertRefusalCode>;
  switch (squash(signalType)) {
    case 'metric':
      kind = 'metric';
      reading = { down: fired, summary: metricSummary(alertContext), regions: [], services: [] };
      break;
    case 'log':
      kind = 'log';
      targetIds.push(...dimensionResourceIds(alertContext));
      reading = { down: fired, summary: metricSummary(alertContext), regions: [], services: [] };
      break;
    case 'activitylog':
      kind = activityLogKind(essentials, alertContext);
      reading =
        kind === 'resource-health'
          ? readResourceHealth(alertContext, fired)
          : kind === 'service-health'
            ? readServiceHealth(alertContext, fired)
            : {
                down: false,
                summary:
                  typeof alertContext.operationName === 'string'
                    ? `${alertContext.operationName.slice(0, 200)}${typeof alertContext.status === 'string' ? ` (${alertContext.status})` : ''}`
                    : '',
                regions: [],
                services: [],
              };
      break;
    default:
      return refuse(
        'unprocessable',
        'UnsupportedSignalType',
        `${E}.signalType ${JSON.stringify(signalType.slice(0, 60))} is not understood: Metric, Log and Activity Log are`,
        { path: `${E}.signalType` },
      );
  }
  if ('ok' in reading) return reading;

  const alert: NormalizedAlert = {
    alertId,
    condition,
    kind,
    severity,
    alertRule: optionalString(essentials.alertRule) ?? '',
    firedAt: new Date(firedMs).toISOString(),
    description: description ?? '',
    summary: reading.summary,
    targetResourceIds: [...new Set(targetIds.map((id) => id.trim().toLowerCase()))],
    regions: reading.regions,
    services: reading.services,
    down: reading.down,
    dedupeKey: `${alertId}:${condition}`,
  };
  return { ok: true, alert };
}
