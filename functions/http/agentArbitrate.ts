import { app, type HttpRequest, type HttpResponseInit, type InvocationContext } from '@azure/functions';
import * as df from 'durable-functions';
import { arbitrationInstanceId, EventNames, FunctionNames } from '../../shared/constants/functionNames';
import type { ArbitrationDecision, ArbitrationVote } from '../../shared/control/arbitration';
import { parseAgentBody } from '../../shared/control/agentRequests';
import { arbitrateBodySchema } from '../../shared/contracts/agentApi';
import { paths, routes } from '../../shared/contracts/routes';
import type { ArbitrationOrchestrationInput } from '../../orchestrations/arbitration';
import { idParam, jsonError, withErrorPolicy } from './httpResponses';
import { agentContext, readSignedRequest } from './agentHttp';

/** How long the HTTP call waits for the decision before answering 202 with a status URL. */
const WAIT_MS = 8000;

/** What the decision means for the node that asked. */
function answerFor(nodeId: string, decision: ArbitrationDecision): Record<string, unknown> {
  if (decision.outcome === 'decided') {
    const won = decision.winner === nodeId;
    return {
      decision: won ? 'won' : 'lost',
      epoch: decision.epoch,
      role: won ? 'active' : 'standby',
      fence: !won,
      winner: decision.winner,
    };
  }
  if (decision.outcome === 'superseded') {
    const active = decision.activeNodeId === nodeId;
    return {
      decision: 'superseded',
      epoch: decision.epoch,
      role: active ? 'active' : 'standby',
      fence: !active,
      winner: decision.activeNodeId,
    };
  }
  return { decision: 'pending', winner: decision.winner };
}

async function awaitDecision(
  client: df.DurableClient,
  instanceId: string,
  waitMs: number,
): Promise<ArbitrationDecision | 'failed' | undefined> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    const status = await client.getStatus(instanceId);
    if (status.runtimeStatus === df.OrchestrationRuntimeStatus.Completed)
      return status.output as ArbitrationDecision;
    if (
      status.runtimeStatus === df.OrchestrationRuntimeStatus.Failed ||
      status.runtimeStatus === df.OrchestrationRuntimeStatus.Terminated
    )
      return 'failed';
    if (Date.now() >= deadline) return undefined;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

function decisionResponse(
  nodeId: string,
  clusterId: string,
  epoch: number,
  decision: ArbitrationDecision | 'failed' | undefined,
): HttpResponseInit {
  if (decision === 'failed')
    return jsonError(503, 'ArbitrationFailed', 'the arbitration did not complete; ask again', {});
  if (decision === undefined) {
    // A path, not an absolute URL: behind a proxy the origin this host sees is not the one the agent used.
    const statusUrl = paths.agentArbitrationStatus(clusterId, epoch);
    return {
      status: 202,
      headers: { location: statusUrl, 'retry-after': '1' },
      jsonBody: { decision: 'pending', statusUrl },
    };
  }
  return { status: 200, jsonBody: answerFor(nodeId, decision) };
}

/**
 * POST /api/v1/agent/arbitrate (signed): a node that lost its peer asks the witness for the vote. Requests of one
 * (cluster, epoch) join one orchestration; the call waits up to 8 s for the decision, else answers 202 with a
 * status URL (GET, signed). The loser is told to fence itself.
 */
export async function agentArbitrateHandler(
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const context = await agentContext();
  const signed = await readSignedRequest(request, context);
  if (!signed.ok) return signed.response;
  const { clusterId, nodeId } = signed.verified;
  const parsed = parseAgentBody(signed.body, arbitrateBodySchema, 'arbitration request');
  if (!parsed.ok) return { status: parsed.reply.status, jsonBody: parsed.reply.body };
  const { services } = context;
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
  const instanceId = arbitrationInstanceId(clusterId, epoch);
  const existing = await client.getStatus(instanceId).catch(() => undefined);
  // A failed or terminated arbitration of this epoch (activities out of retries) is started afresh: its decision
  // was never made, and the witness record reconciles anything half-done.
  const finishedWithoutDecision =
    existing?.runtimeStatus === df.OrchestrationRuntimeStatus.Failed ||
    existing?.runtimeStatus === df.OrchestrationRuntimeStatus.Terminated;
  if (!existing || finishedWithoutDecision) {
    const input: ArbitrationOrchestrationInput = {
      clusterId,
      epoch,
      windowMs: document.witness.arbitrationWindowMs,
    };
    // Concurrent requests race here; with overridableExistingInstanceStates=NonRunningStates the loser gets an error.
    await client
      .startNew(FunctionNames.arbitrationOrchestrator, { instanceId, input })
      .catch(() => undefined);
  }
  const node = document.nodes.find((n) => n.id === nodeId);
  const vote: ArbitrationVote = {
    nodeId,
    priority: node?.priority ?? 100,
    checks: parsed.value.checks,
    at: new Date(services.now()).toISOString(),
  };
  if (!existing || existing.runtimeStatus !== df.OrchestrationRuntimeStatus.Completed) {
    await client.raiseEvent(instanceId, EventNames.arbitrationVote, vote);
  }
  const decision = await awaitDecision(client, instanceId, WAIT_MS);
  return decisionResponse(nodeId, clusterId, epoch, decision);
}

/** GET /api/v1/agent/arbitration/{clusterId}/{epoch} (signed): the decision of an arbitration, or 202 while pending. */
export async function agentArbitrationStatusHandler(
  request: HttpRequest,
  invocation: InvocationContext,
): Promise<HttpResponseInit> {
  const context = await agentContext();
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
  const status = await client.getStatus(arbitrationInstanceId(cluster.value, epoch)).catch(() => undefined);
  if (!status)
    return jsonError(404, 'ArbitrationNotFound', `no arbitration for ${cluster.value} at epoch ${epoch}`);
  const decision = await awaitDecision(client, arbitrationInstanceId(cluster.value, epoch), 0);
  return decisionResponse(signed.verified.nodeId, cluster.value, epoch, decision);
}

app.http(FunctionNames.agentArbitrate, {
  route: routes.agentArbitrate,
  methods: ['POST'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(agentArbitrateHandler),
});
app.http(FunctionNames.agentArbitrationStatus, {
  route: routes.agentArbitrationStatus,
  methods: ['GET'],
  authLevel: 'anonymous',
  extraInputs: [df.input.durableClient()],
  handler: withErrorPolicy(agentArbitrationStatusHandler),
});
