import { createHash } from 'node:crypto';
import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { authenticateWebhookPrincipal } from '../../shared/auth/webhookPrincipal';
import { getConfig } from '../../shared/config/config';
import { FunctionNames } from '../../shared/constants/functionNames';
import { parseStrictJson } from '../../shared/contracts/json';
import { routes } from '../../shared/contracts/routes';
import type { Services } from '../../shared/services/services';
import { parseAzureMonitorAlert } from '../../shared/webhooks/azureMonitor';
import { mapLimit } from '../../shared/util/mapLimit';
import { detectionView } from '../../shared/domain/clusterState';
import { matchAlert, type ClusterView } from '../../shared/webhooks/matchAlert';
import { withServices } from '../common/withServices';
import { startClusterOperation } from '../durable/startClusterOperation';
import { jsonError, limitedBody, withErrorPolicy } from './httpResponses';
import { refusalToHttp } from './refusalToHttp';

/** Azure Monitor's limit on an alert payload. */
const MAX_ALERT_BYTES = 256 * 1024;

/** One operation per (alert, condition, cluster): a redelivered alert joins it, or starts nothing once it ended. */
const operationIdFor = (dedupeKey: string, clusterId: string) =>
  `failover-${createHash('sha256').update(`${dedupeKey}\n${clusterId}`).digest('hex').slice(0, 24)}`;

/**
 * POST /api/v1/webhooks/azure-monitor (function key) and /secure (an action group's Secure Webhook): an Azure Monitor action group's webhook, common alert schema.
 * A fired alert that says the active node of a cluster (its VM, or its region in a Service Health incident) is down
 * starts that cluster's failover — or joins the one running, so five copies of an alert start one — where the
 * cluster's policy allows it (`failover.mode`, anti-flapping). Resolved alerts, alerts on standbys and alerts that
 * match no node change nothing and answer 200; each alert that concerns a cluster is in its audit log. Answers at
 * once (202 with the operations) and never waits for a failover. Bad input is a 4xx naming what was not understood,
 * with nothing started; a temporary failure is 503 with Retry-After, which action groups retry.
 */
/** How many clusters' failovers one alert starts at a time. */
const START_CONCURRENCY = 16;

export async function azureMonitorWebhookHandler(
  services: Services,
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const body = await limitedBody(request, MAX_ALERT_BYTES);
  if (!body.ok) return body.response;
  const json = parseStrictJson(body.body.toString('utf8'));
  if (!json.ok) return jsonError(400, 'InvalidJson', `the alert is not valid JSON: ${json.message}`);
  const parsed = parseAzureMonitorAlert(json.value);
  if (!parsed.ok) return refusalToHttp(parsed);
  const { alert } = parsed;
  // Two queries whatever the number of clusters: the documents, and each state's small detection view.
  const [documents, states] = await Promise.all([
    services.clusters.listDocuments(),
    services.clusters.listDetectionViews(),
  ]);
  // A state written before the view existed is read in full (once: its next write stores the view).
  const complete = await mapLimit(states, START_CONCURRENCY, async ({ clusterId, view }) => {
    if (view) return { clusterId, view };
    const stored = await services.clusters.getState(clusterId);
    return { clusterId, view: stored ? detectionView(stored.state) : undefined };
  });
  const activeOf = new Map(
    complete.flatMap(({ clusterId, view }) =>
      view && !view.revoked && view.activeNodeId ? [[clusterId, view.activeNodeId] as const] : [],
    ),
  );
  const views: ClusterView[] = documents.map(({ document }) => ({
    document,
    activeNodeId: activeOf.get(document.id) ?? '',
  }));
  const { matches, impactedRegions } = matchAlert(alert, views);
  const now = services.now();
  await Promise.all(
    matches.map((m) =>
      services.audit.append({
        clusterId: m.clusterId,
        at: now,
        actor: 'azure-monitor',
        action: 'alert-received',
        detail: {
          alertId: alert.alertId,
          condition: alert.condition,
          kind: alert.kind,
          summary: alert.summary,
          reason: m.reason,
          nodeIds: m.nodeIds,
          triggers: m.triggers,
        },
      }),
    ),
  );
  if (matches.length === 0)
    invocation.log(
      `alert ${alert.alertId} (${alert.condition}, ${alert.kind}) matches no node of any cluster`,
    );
  const client = df.getClient(invocation);
  // Started side by side (a region outage matches many clusters; an action group waits only seconds); each start is
  // idempotent (its operation id derives from the alert and the cluster), so a retry after a 503 starts nothing twice.
  const results = await mapLimit(
    matches.filter((match) => match.triggers),
    START_CONCURRENCY,
    async (m) => {
      const started = await startClusterOperation(client, services, {
        clusterId: m.clusterId,
        operationId: operationIdFor(alert.dedupeKey, m.clusterId),
        kind: 'failover',
        targetNodeId: null,
        force: false,
        trigger: { kind: 'webhook', reference: alert.dedupeKey.slice(0, 500) },
        actor: 'azure-monitor',
        reason: alert.summary || `alert ${alert.alertRule}`,
        avoidRegions: impactedRegions,
      });
      return { clusterId: m.clusterId, started };
    },
  );
  const failed = results.find((r) => !r.started.ok);
  if (failed && !failed.started.ok) return refusalToHttp(failed.started);
  const operations = results.flatMap(({ clusterId, started }) =>
    started.ok ? [{ clusterId, operationId: started.operationId, started: started.started }] : [],
  );
  return {
    status: operations.length > 0 ? 202 : 200,
    jsonBody: {
      alert: { alertId: alert.alertId, condition: alert.condition, kind: alert.kind, down: alert.down },
      matches,
      operations,
    },
  };
}

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

/**
 * The Secure Webhook guard (ROUTE_ACCESS `webhook-principal`): the caller must be a principal App Service
 * Authentication vouches for, holding the `ActionGroupsSecureWebhook` app role — checked before the body is read or
 * anything is touched. 401 when the app does not trust the platform's principal (AUTH_TRUST_CLIENT_PRINCIPAL is not
 * true: the header could be forged) or there is none, 403 naming the role without it.
 */
export function requireWebhookPrincipal(handler: Handler): Handler {
  return async (request, context) => {
    const decision = authenticateWebhookPrincipal(
      { header: (name) => request.headers.get(name) },
      getConfig().auth,
    );
    if (!decision.ok) {
      const { ok: _ok, status, code, message, ...extra } = decision;
      context.info(`refused the secure Azure Monitor webhook: ${status} ${code}`);
      return { status, jsonBody: { error: { code, message, ...extra } } };
    }
    context.info(`secure Azure Monitor webhook from ${decision.principal.actor}`);
    return handler(request, context);
  };
}

app.http(FunctionNames.azureMonitorWebhook, {
  route: routes.webhookAzureMonitor,
  methods: ['POST'],
  authLevel: 'function',
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(withServices(azureMonitorWebhookHandler)),
});

/**
 * POST /api/v1/webhooks/azure-monitor/secure: the same webhook for an action group's Secure Webhook — `anonymous` at
 * the host (the caller has an Entra token, not a function key); App Service Authentication validates the token and
 * the app requires the `ActionGroupsSecureWebhook` role (requireWebhookPrincipal). Everything after that is the
 * function-key route's: de-duplication, 202/200, 503 with Retry-After on a temporary failure.
 */
export const azureMonitorSecureWebhook = withErrorPolicy(
  requireWebhookPrincipal(withServices(azureMonitorWebhookHandler)),
);

app.http(FunctionNames.azureMonitorSecureWebhook, {
  route: routes.webhookAzureMonitorSecure,
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: azureMonitorSecureWebhook,
});
