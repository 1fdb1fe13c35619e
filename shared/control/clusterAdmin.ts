import { parse as parseYaml } from 'yaml';
import { deriveNodeKey } from '../auth/nodeKeys';
import { parseStrictJson } from '../contracts/json';
import { parseClusterDocument, type ClusterDocument, type DocumentProblem } from '../domain/clusterDocument';
import { initialClusterState } from '../domain/clusterState';
import { buildClusterStatus, type ClusterStatus } from '../domain/clusterStatus';
import { WitnessNotFoundError } from '../errors';
import type { Services } from '../services/services';

export type DeclareOutcome =
  | { ok: true; created: boolean; changed: boolean; document: ClusterDocument }
  | { ok: false; status: 400; code: string; message: string; problems?: DocumentProblem[] };

/** Parses a JSON or YAML cluster document; YAML when the content type says so (or the text is not JSON). */
export function parseDocumentText(
  text: string,
  contentType: string | undefined,
): { ok: true; value: unknown } | { ok: false; message: string } {
  const yamlType = /yaml/i.test(contentType ?? '');
  if (!yamlType) {
    // Strict JSON: a duplicate key or a number out of range is refused, naming where (YAML refuses duplicates itself).
    const json = parseStrictJson(text);
    return json.ok ? json : { ok: false, message: `the body is not valid JSON: ${json.message}` };
  }
  try {
    return { ok: true, value: parseYaml(text, { maxAliasCount: 50 }) as unknown };
  } catch (error) {
    return {
      ok: false,
      message: `the body is not valid YAML: ${(error as Error).message.split('\n')[0] ?? ''}`,
    };
  }
}

/**
 * Declares (creates or updates) a cluster idempotently. The document's roles are the initial roles only: once the
 * cluster exists, who is active is decided by the cluster state (failover, make-active), never by re-declaring.
 */
export async function declareCluster(
  services: Services,
  pathClusterId: string,
  input: unknown,
  actor: string,
): Promise<DeclareOutcome> {
  const parsed = parseClusterDocument(input);
  if (!parsed.ok)
    return {
      ok: false,
      status: 400,
      code: 'InvalidClusterDocument',
      message: `the cluster document has ${parsed.problems.length} problem(s)`,
      problems: parsed.problems,
    };
  const document = parsed.value;
  if (document.id !== pathClusterId) {
    return {
      ok: false,
      status: 400,
      code: 'ClusterIdMismatch',
      message: `the document's id "${document.id}" differs from the path's "${pathClusterId}"`,
    };
  }
  const now = services.now();
  const existingState = await services.clusters.getState(document.id);
  if (
    existingState?.state.activeNodeId &&
    !document.nodes.some((n) => n.id === existingState.state.activeNodeId)
  ) {
    return {
      ok: false,
      status: 400,
      code: 'ActiveNodeRemoved',
      message: `node "${existingState.state.activeNodeId}" is the cluster's active node and cannot be removed: make another node active first`,
    };
  }
  const result = await services.clusters.putDocument(document, now);
  if (!existingState) {
    await services.clusters.createState(
      initialClusterState(document.id, document.nodes.find((n) => n.role === 'active')?.id ?? '', now),
    );
  }
  if (result.changed) {
    await services.audit.append({
      clusterId: document.id,
      at: now,
      actor,
      action: result.created ? 'cluster-created' : 'cluster-updated',
      detail: { nodes: document.nodes.map((n) => n.id) },
    });
  }
  return { ok: true, created: result.created, changed: result.changed, document };
}

/** The live status of a cluster, or undefined when it is not declared. */
export async function clusterStatus(
  services: Services,
  clusterId: string,
): Promise<ClusterStatus | undefined> {
  const stored = await services.clusters.getDocument(clusterId);
  if (!stored) return undefined;
  const [state, heartbeats, witness, operations] = await Promise.all([
    services.clusters.getState(clusterId),
    services.heartbeats.listForCluster(clusterId),
    services.witness.read(clusterId).catch((error: unknown) => {
      if (error instanceof WitnessNotFoundError) return undefined;
      throw error;
    }),
    services.operations.listUnfinished(clusterId),
  ]);
  return buildClusterStatus({
    document: stored.document,
    state: state?.state,
    heartbeats,
    witness: witness && witness.record.epoch > 0 ? witness.record : null,
    operations,
    now: services.now(),
  });
}

export type IssueKeyOutcome =
  | { ok: true; nodeId: string; keyVersion: number; key: string }
  | { ok: false; status: 404 | 409; code: string; message: string };

/**
 * Issues a node's key for enrollment: version 1 once; `rotate` issues the next version (the previous one stays
 * valid until the agent uses the new one). The key is derived, returned once, and never stored or logged.
 */
export async function issueNodeKey(
  services: Services,
  clusterId: string,
  nodeId: string,
  rotate: boolean,
): Promise<IssueKeyOutcome> {
  const stored = await services.clusters.getDocument(clusterId);
  if (!stored)
    return {
      ok: false,
      status: 404,
      code: 'ClusterNotFound',
      message: `cluster ${clusterId} is not declared`,
    };
  if (!stored.document.nodes.some((n) => n.id === nodeId)) {
    return {
      ok: false,
      status: 404,
      code: 'NodeNotFound',
      message: `node ${nodeId} is not in cluster ${clusterId}`,
    };
  }
  const current = await services.credentials.get(clusterId, nodeId);
  if (current && !rotate) {
    return {
      ok: false,
      status: 409,
      code: 'KeyAlreadyIssued',
      message: `key version ${current.credential.keyVersion} of ${nodeId} was already issued; use ?rotate=true for a new one`,
    };
  }
  const keyVersion = (current?.credential.keyVersion ?? 0) + 1;
  const now = services.now();
  const issued = await services.credentials.issue(
    { clusterId, nodeId, keyVersion, issuedAt: now },
    current?.etag,
  );
  if (!issued)
    return {
      ok: false,
      status: 409,
      code: 'KeyIssuedConcurrently',
      message: `another request issued a key for ${nodeId} at the same time`,
    };
  await services.audit.append({
    clusterId,
    at: now,
    actor: 'admin',
    action: rotate ? 'node-key-rotated' : 'node-key-issued',
    detail: { nodeId, keyVersion },
  });
  return {
    ok: true,
    nodeId,
    keyVersion,
    key: deriveNodeKey(services.config.nodeKeyMaster, clusterId, nodeId, keyVersion).toString('base64'),
  };
}

/** Operator-forced recovery: breaks the witness lease of a stuck decider. Audited. */
export async function breakWitness(services: Services, clusterId: string, reason: string): Promise<boolean> {
  if (!(await services.clusters.getDocument(clusterId))) return false;
  await services.witness.breakLease(clusterId, { breakPeriodSeconds: 0 });
  await services.audit.append({
    clusterId,
    at: services.now(),
    actor: 'admin',
    action: 'witness-lease-broken',
    detail: { reason },
  });
  return true;
}
