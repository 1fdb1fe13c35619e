import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import type { ArbitrationDecision } from '../../shared/control/arbitration/arbitration';
import { admitArbitrationRequest } from '../../shared/control/arbitration/admitRequest';
import { arbitrationAnswer } from '../../shared/control/arbitration/answer';
import { arbitrateBodySchema } from '../../shared/contracts/agentApi';
import { paths, routes } from '../../shared/contracts/routes';
import type { Services } from '../../shared/services/services';
import { Events, InstanceIds, Orchestrations } from '../../orchestrations/contracts';
import { withServices } from '../common/withServices';
import { raiseEvent, startOrJoin, waitForInstance, type InstanceOutcome } from '../durable/singleton';
import { idParam, jsonError, withErrorPolicy } from './httpResponses';
import { readSignedBody, readSignedRequest } from './agentHttp';
import { refusalToHttp } from './refusalToHttp';

/** How long the HTTP call waits for the decision before answering 202 with a status URL. */
const WAIT_MS = 8000;

function decisionResponse(
  nodeId: string,
  clusterId: string,
  epoch: number,
  outcome: InstanceOutcome<ArbitrationDecision>,
): HttpResponseInit {
  if (outcome.state === 'failed' || outcome.state === 'absent')
    return {
      ...jsonError(503, 'ArbitrationFailed', 'the arbitration did not complete; ask again'),
      headers: { 'retry-after': '1' },
    };
  if (outcome.state === 'running') {
    // A path, not an absolute URL: behind a proxy the origin this host sees is not the one the agent used.
    const statusUrl = paths.agentArbitrationStatus(clusterId, epoch);
    return {
      status: 202,
      headers: { location: statusUrl, 'retry-after': '1' },
      jsonBody: { decision: 'pending', statusUrl },
    };
  }
  return { status: 200, jsonBody: arbitrationAnswer(nodeId, outcome.output) };
}

/**
 * POST /api/v1/agent/arbitrate (signed): a node that lost its peer asks the witness for the vote. Requests of one
 * (cluster, epoch) join one orchestration; the call waits up to 8 s for the decision, else answers 202 with a
 * status URL (GET, signed). The loser is told to fence itself.
 */
export async function agentArbitrateHandler(
  services: Services,
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const signed = await readSignedBody(request, services, arbitrateBodySchema, 'arbitration request');
  if (!signed.ok) return signed.response;
  const { clusterId, nodeId } = signed.verified;
  const admitted = await admitArbitrationRequest(services, signed.verified, signed.value);
  if (!admitted.ok) return refusalToHttp(admitted);
  const { document, epoch, vote } = admitted;

  const client = df.getClient(invocation);
  const instanceId = InstanceIds.arbitration(clusterId, epoch);
  // One arbitration per (cluster, epoch): a failed or terminated one (activities out of retries) is started afresh,
  // as its decision was never made and the witness record reconciles anything half-done.
  const singleton = await startOrJoin(
    client,
    Orchestrations.arbitration,
    instanceId,
    { clusterId, epoch, windowMs: document.witness.arbitrationWindowMs },
    'absent-or-failed',
  );
  if (singleton.started || singleton.previous?.runtimeStatus !== df.OrchestrationRuntimeStatus.Completed)
    await raiseEvent(client, instanceId, Events.arbitrationVote, vote);
  const outcome = await waitForInstance<ArbitrationDecision>(client, instanceId, WAIT_MS);
  return decisionResponse(nodeId, clusterId, epoch, outcome);
}

/** GET /api/v1/agent/arbitration/{clusterId}/{epoch} (signed): the decision of an arbitration, or 202 while pending. */
export async function agentArbitrationStatusHandler(
  services: Services,
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const signed = await readSignedRequest(request, services);
  if (!signed.ok) return signed.response;
  const cluster = idParam(request, 'clusterId');
  if (!cluster.ok) return cluster.response;
  const epoch = Number(request.params.epoch);
  if (!Number.isSafeInteger(epoch) || epoch < 1)
    return jsonError(400, 'InvalidEpoch', 'epoch must be a positive integer');
  if (cluster.value !== signed.verified.clusterId)
    return jsonError(403, 'NodeNotInCluster', 'a node may only ask about its own cluster');
  const client = df.getClient(invocation);
  const outcome = await waitForInstance<ArbitrationDecision>(
    client,
    InstanceIds.arbitration(cluster.value, epoch),
    0,
  );
  if (outcome.state === 'absent')
    return jsonError(404, 'ArbitrationNotFound', `no arbitration for ${cluster.value} at epoch ${epoch}`);
  return decisionResponse(signed.verified.nodeId, cluster.value, epoch, outcome);
}

app.http(FunctionNames.agentArbitrate, {
  route: routes.agentArbitrate,
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(withServices(agentArbitrateHandler)),
});
app.http(FunctionNames.agentArbitrationStatus, {
  route: routes.agentArbitrationStatus,
  methods: ['GET'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(withServices(agentArbitrationStatusHandler)),
});
