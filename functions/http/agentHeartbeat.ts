import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { Events, InstanceIds } from '../../orchestrations/contracts';
import { detectFailureOf } from '../../shared/control/detection/failureDetector';
import { isRunning, raiseEvent, readStatus } from '../durable/singleton';
import { startDetectedFailover } from '../durable/startDetectedFailover';
import { FunctionNames } from '../../shared/constants/functionNames';
import { routes } from '../../shared/contracts/routes';
import { withErrorPolicy } from './httpResponses';
import type { Services } from '../../shared/services/services';
import { withServices } from '../common/withServices';
import { readSignedRequest } from './agentHttp';
import { refusalToHttp } from './refusalToHttp';
import { countHeartbeat } from '../../shared/telemetry/countHeartbeat';

/**
 * POST /api/v1/agent/heartbeat: a signed heartbeat (anonymous at the host level; the signature is the
 * authentication). Rejections: 413 body too large, 401 missing or bad signature or timestamp (one answer whether or
 * not the cluster, node and key version exist), 409 replayed sequence, stale key version or an epoch ahead of the
 * cluster's, 422 invalid body — nothing is written for any of them.
 */
export async function agentHeartbeatHandler(
  services: Services,
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const signed = await readSignedRequest(request, services);
  if (!signed.ok) return rejected(signed.response);
  const outcome = await services.agents.heartbeats.handle(signed.verified, signed.body);
  if (!outcome.ok) return refusalToHttp(outcome);
  if (outcome.verifiedActive)
    await tellOperation(invocation, signed.verified.clusterId, outcome.verifiedActive);
  if (outcome.activeSilent) await detectNow(services, invocation, signed.verified.clusterId);
  return { status: 200, jsonBody: outcome.reply };
}

/** A heartbeat refused before the heartbeat service saw it (its signature): counted by its error code. */
function rejected(response: HttpResponseInit): HttpResponseInit {
  const body = response.jsonBody as { error?: { code?: unknown } } | undefined;
  countHeartbeat({ ok: false, code: typeof body?.error?.code === 'string' ? body.error.code : 'Rejected' });
  return response;
}

/**
 * A standby's heartbeat was answered from a state in which the active has been silent for the detection window:
 * check on a fresh read and, when it stands, record the detection and start its failover now rather than at the
 * detector's next round (up to a second later). Best effort: the heartbeat is answered whatever this does, and the
 * detector's round still runs.
 */
async function detectNow(
  services: Services,
  invocation: InvocationContext,
  clusterId: string,
): Promise<void> {
  try {
    const detection = await detectFailureOf(services, clusterId);
    if (detection) await startDetectedFailover(df.getClient(invocation), services, detection, invocation);
  } catch (error) {
    invocation.warn(`could not check the silence in ${clusterId}: ${(error as Error).message}`);
  }
}

/**
 * The new active reached its verifying heartbeat: a running operation of the cluster hears it now (`heard`) rather
 * than at its next poll. Best effort, once per promotion: the heartbeat is answered whatever this does, and the
 * operation polls anyway.
 */
async function tellOperation(
  invocation: InvocationContext,
  clusterId: string,
  heard: { nodeId: string; epoch: number },
): Promise<void> {
  try {
    const client = df.getClient(invocation);
    const instanceId = InstanceIds.clusterOperation(clusterId);
    if (isRunning(await readStatus(client, instanceId)))
      await raiseEvent(client, instanceId, Events.activeHeard, { clusterId, ...heard });
  } catch (error) {
    invocation.warn(`could not tell the operation of ${clusterId}: ${(error as Error).message}`);
  }
}

app.http(FunctionNames.agentHeartbeat, {
  route: routes.agentHeartbeat,
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(withServices(agentHeartbeatHandler)),
});
