import { BAD_SIGNATURE_MESSAGE, type VerifiedRequest } from '../../auth/signedRequest';
import type { CommandAckBody, CommandAckEvent } from '../../contracts/agentApi';
import type { Services } from '../../services/services';
import { refuse, type Outcome } from '../common/outcome';

export { ackCounts } from '../../domain/commandAcks';

export type AcceptedCommandAck = Outcome<{
  /** The acknowledgement was recorded before (a re-send): `event` is the first one, unchanged. */
  duplicate: boolean;
  /** The event to raise to the cluster's operation: the recorded acknowledgement. */
  event: CommandAckEvent;
}>;

/**
 * Accepts a verified command acknowledgement: the node must still be in the declared cluster (else the one answer
 * of a bad signature); an epoch ahead of the cluster's is refused (409 EpochAhead, like heartbeats: a node holding a
 * key cannot make the cluster's epoch look higher); the request's sequence number is consumed, so the request
 * cannot be replayed; then the acknowledgement is recorded once per (cluster, node, command id) and audited. A
 * duplicate (the agent re-sends until it hears 2xx) is answered with the first record and written nowhere but the
 * consumed sequence. A late acknowledgement (an epoch below the cluster's) is recorded like any other: whether it
 * counts for an operation is `ackCounts`, which never counts one of another epoch or node.
 */
export async function acceptCommandAck(
  services: Services,
  request: VerifiedRequest,
  body: CommandAckBody,
): Promise<AcceptedCommandAck> {
  const { directory, heartbeats } = services.agents;
  const document = await directory.document(request.clusterId);
  const state = await services.clusters.getState(request.clusterId);
  if (!document || !state || !document.nodes.some((n) => n.id === request.nodeId))
    return refuse('unauthenticated', 'BadSignature', BAD_SIGNATURE_MESSAGE);
  const current = state.state.epoch;
  if (body.epoch > current)
    return refuse('conflict', 'EpochAhead', `epoch ${body.epoch} is ahead of the cluster's ${current}`, {
      currentEpoch: current,
    });
  const replayed = await heartbeats.consume(document, request, {
    receivedAt: services.now(),
    role: 'standby',
    epoch: body.epoch,
    checks: [],
  });
  if (replayed) return replayed;
  const event: CommandAckEvent = {
    clusterId: request.clusterId,
    nodeId: request.nodeId,
    commandId: body.commandId,
    type: body.type,
    epoch: body.epoch,
    outcome: body.outcome,
    steps: body.steps,
    receivedAt: new Date(services.now()).toISOString(),
  };
  const insert = await services.commandAcks.insertIfAbsent({
    event,
    ...(body.message !== undefined ? { message: body.message } : {}),
    ...(body.startedAt !== undefined ? { startedAt: body.startedAt } : {}),
    ...(body.finishedAt !== undefined ? { finishedAt: body.finishedAt } : {}),
  });
  if (!insert.inserted) return { ok: true, duplicate: true, event: insert.existing.event };
  await services.audit.append({
    clusterId: request.clusterId,
    at: services.now(),
    actor: `node:${request.nodeId}`,
    action: 'command-acknowledged',
    detail: {
      commandId: body.commandId,
      type: body.type,
      epoch: body.epoch,
      clusterEpoch: current,
      outcome: body.outcome,
      steps: body.steps.map((s) => ({ name: s.name, exitCode: s.exitCode, durationMs: s.durationMs })),
      ...(body.message !== undefined ? { message: body.message } : {}),
    },
  });
  return { ok: true, duplicate: false, event };
}
