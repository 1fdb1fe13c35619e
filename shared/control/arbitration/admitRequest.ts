import type { VerifiedRequest } from '../../auth/signedRequest';
import { BAD_SIGNATURE_MESSAGE } from '../../auth/signedRequest';
import type { ArbitrateBody } from '../../contracts/agentApi';
import type { ClusterDocument } from '../../domain/clusterDocument';
import type { Services } from '../../services/services';
import { arbitrationEpochRefusal } from '../agents/agentRequests';
import { refuse, type Outcome } from '../common/outcome';
import type { ArbitrationVote } from './arbitration';

export type AdmittedArbitration = Outcome<{
  document: ClusterDocument;
  /** The cluster's epoch, which the request named: the arbitration is about the partition under it. */
  epoch: number;
  vote: ArbitrationVote;
}>;

/**
 * Admits a verified arbitration request: the node must still be in the declared cluster (else the one answer of a
 * bad signature), the epoch it names must be the cluster's (a stale or future epoch is refused, so a node holding a
 * key cannot raise the epoch by asking), and its sequence number is consumed like a heartbeat's, so the request
 * cannot be replayed. Nothing is written for a refusal but the consumed sequence.
 */
export async function admitArbitrationRequest(
  services: Services,
  request: VerifiedRequest,
  body: ArbitrateBody,
): Promise<AdmittedArbitration> {
  const { directory, heartbeats } = services.agents;
  const document = await directory.document(request.clusterId);
  const state = await services.clusters.getState(request.clusterId);
  const node = document?.nodes.find((n) => n.id === request.nodeId);
  if (!document || !state || !node) return refuse('unauthenticated', 'BadSignature', BAD_SIGNATURE_MESSAGE);
  const epoch = state.state.epoch;
  const wrongEpoch = arbitrationEpochRefusal(body.epoch, epoch);
  if (wrongEpoch) return wrongEpoch;
  const replayed = await heartbeats.consume(document, request, {
    receivedAt: services.now(),
    role: 'standby',
    epoch: body.epoch,
    checks: body.checks,
  });
  if (replayed) return replayed;
  return {
    ok: true,
    document,
    epoch,
    vote: {
      nodeId: request.nodeId,
      priority: node.priority,
      checks: body.checks,
      at: new Date(services.now()).toISOString(),
    },
  };
}
