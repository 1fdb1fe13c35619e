import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { FunctionNames } from '../../shared/constants/functionNames';
import type { ArbitrationDecision, ArbitrationVote } from '../../shared/control/arbitration/arbitration';
import { arbitrationAnswer } from '../../shared/control/arbitration/answer';
import { parseAgentBody } from '../../shared/control/agentRequests';
import { arbitrateBodySchema } from '../../shared/contracts/agentApi';
import { paths, routes } from '../../shared/contracts/routes';
import type { Services } from '../../shared/services/services';
import { Events, InstanceIds, Orchestrations } from '../../orchestrations/contracts';
import { withServices } from '../common/withServices';
import { raiseEvent, startOrJoin, waitForInstance, type InstanceOutcome } from '../durable/singleton';
import { idParam, jsonError, withErrorPolicy } from './httpResponses';
import { readSignedRequest } from './agentHttp';

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
  const context = { services, ...services.agents };
  const signed = await readSignedRequest(request, context);
  if (!signed.ok) return signed.response;
  const { clusterId, nodeId } = signed.verified;
  const parsed = parseAgentBody(signed.body, arbitrateBodySchema, 'arbitration request');
  if (!parsed.ok) return { status: parsed.reply.status, jsonBody: parsed.reply.body };
  const document = await context.directory.document(clusterId);
  const state = await services.clusters.getState(clusterId);
  if (!document || !state) return jsonError(403, 'NodeNotInCluster', `cluster ${clusterId} is not declared`);
  const epoch = state.state.epoch;
  if (parsed.value.epoch > epoch)
    return jsonError(409, 'EpochAhead', `epoch ${parsed.value.epoch} is ahead of the cluster's ${epoch}`);
  // Consume the sequence number (conditionally, like a heartbeat) so that the request cannot be replayed.
  const refused = await context.heartbeats.consumeSequence(document, signed.verified, {
    receivedAt: services.now(),
    role: 'standby',
    epoch: parsed.value.epoch,
    checks: parsed.value.checks,
  });
  if (refused) return { status: refused.status, jsonBody: refused.body };

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
  const node = document.nodes.find((n) => n.id === nodeId);
  const vote: ArbitrationVote = {
    nodeId,
    priority: node?.priority ?? 100,
    checks: parsed.value.checks,
    at: new Date(services.now()).toISOString(),
  };
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
  const context = { services, ...services.agents };
  const signed = await readSignedRequest(request, context);
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
