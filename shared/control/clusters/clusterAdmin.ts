import { parse as parseYaml } from 'yaml';
import { deriveNodeKey, derivePeerKey } from '../../auth/nodeKeys';
import { parseStrictJson } from '../../contracts/json';
import { parseClusterDocument, type ClusterDocument } from '../../domain/clusterDocument';
import { buildClusterStatus, type ClusterStatus } from '../../domain/clusterStatus';
import { ConcurrencyError, WitnessNotFoundError } from '../../errors';
import type { Services } from '../../services/services';
import { refuse, type Outcome } from '../common/outcome';
import { initialStateFor, policyCopy } from './epochPromotable';

export interface DeclarationWarning {
  code: 'RolesNotApplied';
  message: string;
}

export type DeclareOutcome = Outcome<{
  created: boolean;
  changed: boolean;
  document: ClusterDocument;
  /** What the declaration did not do although the document may suggest it (e.g. a role swap). */
  warnings: DeclarationWarning[];
}>;

/** Content types a cluster document is read from (anything else is refused, naming these). */
export const YAML_CONTENT_TYPES = ['application/yaml', 'text/yaml', 'application/x-yaml'] as const;
export const JSON_CONTENT_TYPES = ['application/json'] as const;

/**
 * The format of a document body by its content type: YAML only for the YAML media types, JSON for `application/json`
 * (and `+json` types) or no content type; undefined for anything else (the caller answers 415).
 */
export function documentFormat(contentType: string | undefined): 'json' | 'yaml' | undefined {
  const mediaType = (contentType ?? '').split(';')[0]?.trim().toLowerCase() ?? '';
  if (
    mediaType === '' ||
    mediaType === 'application/json' ||
    /^application\/[a-z0-9.+-]+\+json$/.test(mediaType)
  )
    return 'json';
  if ((YAML_CONTENT_TYPES as readonly string[]).includes(mediaType)) return 'yaml';
  return undefined;
}

/** Parses a cluster document in the given format. */
export function parseDocumentText(
  text: string,
  format: 'json' | 'yaml',
): { ok: true; value: unknown } | { ok: false; message: string } {
  if (format === 'json') {
    // Strict JSON: a duplicate key or a number out of range is refused, naming where (YAML refuses duplicates itself).
    const json = parseStrictJson(text);
    return json.ok
      ? json
      : {
          ok: false,
          message: `the body is not valid JSON: ${json.message} (a YAML document needs content-type ${YAML_CONTENT_TYPES[0]})`,
        };
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

/** How often a declaration that lost a race re-reads and re-validates against what won before answering 409. */
const DECLARE_ATTEMPTS = 3;

/**
 * Declares (creates or updates) a cluster idempotently. The document's roles are the initial roles only: once the
 * cluster exists, who is active is decided by the cluster state (failover, make-active), never by re-declaring.
 *
 * Document and state live in two tables (no transaction spans them), so the writes are ordered and conditional:
 * a new cluster's document is inserted (insert-only: one request wins), then its state is created from that same
 * document (insert-only); an update replaces the document only over the ETag it was validated against. A request
 * that loses a race re-reads what won and validates again; after DECLARE_ATTEMPTS it is refused with
 * `ConcurrentDeclaration`. A state missing beside a stored document (a crash between the two writes) is created from
 * the stored document before anything else, so the state's active node is always one the stored document names.
 */
export async function declareCluster(
  services: Services,
  pathClusterId: string,
  input: unknown,
  actor: string,
): Promise<DeclareOutcome> {
  const parsed = parseClusterDocument(input);
  if (!parsed.ok)
    return refuse(
      'invalid',
      'InvalidClusterDocument',
      `the cluster document has ${parsed.problems.length} problem(s)`,
      {
        problems: parsed.problems,
      },
    );
  const document = parsed.value;
  if (document.id !== pathClusterId) {
    return refuse(
      'invalid',
      'ClusterIdMismatch',
      `the document's id "${document.id}" differs from the path's "${pathClusterId}"`,
    );
  }
  const declaredActive = document.nodes.find((n) => n.role === 'active')?.id ?? '';
  const text = JSON.stringify(document);
  for (let attempt = 0; attempt < DECLARE_ATTEMPTS; attempt++) {
    const now = services.now();
    const [stored, storedState] = await Promise.all([
      services.clusters.getDocument(document.id),
      services.clusters.getState(document.id),
    ]);
    if (!stored) {
      const write = await services.clusters.writeDocument(document, now, undefined);
      if (!write.ok) continue; // another declaration created it first: validate against that one
      await services.clusters.createState(initialStateFor(document, declaredActive, now));
      // A state that existed already (created beside a document that then lost to ours) gets this policy.
      await syncDetectionCopy(services, document.id);
      await audit(services, document, now, actor, 'cluster-created');
      return { ok: true, created: true, changed: true, document, warnings: [] };
    }
    const storedActive = stored.document.nodes.find((n) => n.role === 'active')?.id ?? '';
    const state =
      storedState ??
      (await services.clusters.createState(initialStateFor(stored.document, storedActive, now)));
    const activeNodeId = state.state.activeNodeId;
    if (activeNodeId && !document.nodes.some((n) => n.id === activeNodeId)) {
      return refuse(
        'conflict',
        'ActiveNodeRemoved',
        `node "${activeNodeId}" is the cluster's active node and cannot be removed: make another node active first`,
        { activeNodeId },
      );
    }
    const warnings: DeclarationWarning[] =
      activeNodeId && activeNodeId !== declaredActive
        ? [
            {
              code: 'RolesNotApplied',
              message:
                `the document marks "${declaredActive}" active but "${activeNodeId}" is the cluster's active node: ` +
                'roles in a document are initial roles only and re-declaring does not switch the active; use ' +
                'make-active for a planned switchover',
            },
          ]
        : [];
    if (JSON.stringify(stored.document) === text) {
      // Re-declaring repairs a copy of the policy that is missing (older state) or behind (a crash before the sync).
      await syncDetectionCopy(services, document.id);
      return { ok: true, created: false, changed: false, document, warnings };
    }
    const write = await services.clusters.writeDocument(document, now, stored.etag);
    if (!write.ok) continue; // changed since we validated: re-read and validate again
    await syncDetectionCopy(services, document.id);
    await audit(services, document, now, actor, 'cluster-updated');
    // Applies at once in this process: a node removed from the document stops being accepted on the agent path.
    services.agents.directory.forgetCluster(document.id);
    return { ok: true, created: false, changed: true, document, warnings };
  }
  return refuse(
    'conflict',
    'ConcurrentDeclaration',
    `cluster ${document.id} was declared concurrently by other requests ${DECLARE_ATTEMPTS} times; nothing was written by this one: read it and retry`,
  );
}

/**
 * Makes the state's copy of the detection policy (read by the failure detector instead of the document) equal the
 * stored document's. The state is read before the document and written over the state's ETag: a declaration that
 * stores a newer document after our document read syncs after it too, so either our write loses (412: re-read) or
 * theirs comes after ours. Never left behind silently: after repeated conflicts it fails as retryable (re-declaring
 * the same document repairs the copy).
 */
async function syncDetectionCopy(services: Services, clusterId: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const state = await services.clusters.getState(clusterId);
    const stored = await services.clusters.getDocument(clusterId);
    if (!state || !stored) return;
    const policy = policyCopy(stored.document);
    if (JSON.stringify(state.state.detection) === JSON.stringify(policy)) return;
    if ((await services.clusters.replaceState({ ...state.state, detection: policy }, state.etag)).ok) return;
  }
  throw new ConcurrencyError(
    `the detection policy of ${clusterId} could not be copied into its state (it kept changing): declare it again`,
  );
}

async function audit(
  services: Services,
  document: ClusterDocument,
  at: number,
  actor: string,
  action: 'cluster-created' | 'cluster-updated',
): Promise<void> {
  await services.audit.append({
    clusterId: document.id,
    at,
    actor,
    action,
    detail: { nodes: document.nodes.map((n) => n.id) },
  });
}

/** The live status of a cluster, or undefined when it is not declared. */
export async function clusterStatus(
  services: Services,
  clusterId: string,
): Promise<ClusterStatus | undefined> {
  const stored = await services.clusters.getDocument(clusterId);
  if (!stored) return undefined;
  const [state, heartbeats, witness, operations, lastDrill] = await Promise.all([
    services.clusters.getState(clusterId),
    services.heartbeats.listForCluster(clusterId),
    services.witness.read(clusterId).catch((error: unknown) => {
      if (error instanceof WitnessNotFoundError) return undefined;
      throw error;
    }),
    services.operations.listUnfinished(clusterId),
    services.drills.latest(clusterId),
  ]);
  return buildClusterStatus({
    lastDrill,
    document: stored.document,
    state: state?.state,
    heartbeats,
    witness: witness && witness.record.epoch > 0 ? witness.record : null,
    operations,
    now: services.now(),
  });
}

export type IssueKeyOutcome = Outcome<{ nodeId: string; keyVersion: number; key: string; peerKey: string }>;

/**
 * Issues a node's key for enrollment: version 1 once; `rotate` issues the next version (the previous one stays
 * valid until the agent uses the new one). The key is derived, returned once, and never stored or logged. With it
 * comes the cluster's peer key (`derivePeerKey`, the same for every node of the cluster and every rotation): what
 * the agents sign and verify their peer-promise requests with. Neither is ever stored, logged or audited.
 */
export async function issueNodeKey(
  services: Services,
  clusterId: string,
  nodeId: string,
  rotate: boolean,
  options: { actor?: string } = {},
): Promise<IssueKeyOutcome> {
  const stored = await services.clusters.getDocument(clusterId);
  if (!stored) return refuse('not-found', 'ClusterNotFound', `cluster ${clusterId} is not declared`);
  if (!stored.document.nodes.some((n) => n.id === nodeId))
    return refuse('not-found', 'NodeNotFound', `node ${nodeId} is not in cluster ${clusterId}`);
  const current = await services.credentials.get(clusterId, nodeId);
  if (current && !rotate) {
    return refuse(
      'conflict',
      'KeyAlreadyIssued',
      `key version ${current.credential.keyVersion} of ${nodeId} was already issued; use ?rotate=true for a new one`,
    );
  }
  // After a cluster deletion the first key skips the retired versions (deleteCluster.ts).
  const keyVersion = current
    ? current.credential.keyVersion + 1
    : await services.credentials.firstVersion(clusterId, nodeId);
  const now = services.now();
  const issued = await services.credentials.issue(
    { clusterId, nodeId, keyVersion, issuedAt: now },
    current?.etag,
  );
  if (!issued)
    return refuse(
      'conflict',
      'KeyIssuedConcurrently',
      `another request issued a key for ${nodeId} at the same time`,
    );
  await services.audit.append({
    clusterId,
    at: now,
    actor: options.actor ?? 'admin',
    action: rotate ? 'node-key-rotated' : 'node-key-issued',
    detail: { nodeId, keyVersion },
  });
  // Applies at once in this process: the agent path must not keep accepting a key version it cached.
  services.agents.directory.forgetNode(clusterId, nodeId);
  return {
    ok: true,
    nodeId,
    keyVersion,
    key: deriveNodeKey(services.config.nodeKeyMaster, clusterId, nodeId, keyVersion).toString('base64'),
    peerKey: derivePeerKey(services.config.nodeKeyMaster, clusterId).toString('base64'),
  };
}

/** Operator-forced recovery: breaks the witness lease of a stuck decider. Audited. */
export async function breakWitness(
  services: Services,
  clusterId: string,
  reason: string,
  options: { actor?: string } = {},
): Promise<boolean> {
  if (!(await services.clusters.getDocument(clusterId))) return false;
  await services.witness.breakLease(clusterId, { breakPeriodSeconds: 0 });
  await services.audit.append({
    clusterId,
    at: services.now(),
    actor: options.actor ?? 'admin',
    action: 'witness-lease-broken',
    detail: { reason },
  });
  return true;
}
