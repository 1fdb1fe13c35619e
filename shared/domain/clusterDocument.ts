import { Cron } from 'croner';
import { z } from 'zod';
import { ID_PATTERN, tableKeyProblem } from './tableKeys';
import { BOUNDS } from '../contracts/bounds';
import { MAX_CLOCK_DRIFT_RATE, minDriftMarginMs } from './clockDrift';

export { MAX_CLOCK_DRIFT_RATE, minDriftMarginMs };

const id = z
  .string()
  .regex(
    ID_PATTERN,
    'must be 1-63 lowercase letters, digits or single dashes, starting and ending with a letter or digit',
  )
  .superRefine((value, ctx) => {
    const problem = tableKeyProblem(value);
    if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
  });

/** Bounds on free-text fields, so that every document the schema accepts can be stored (see MAX_DOCUMENT_CHARS). */
export const MAX_RESOURCE_ID_CHARS = 1024;
export const MAX_OCID_CHARS = 255;
export const MAX_SCHEDULE_CHARS = 120;
export const MAX_SIZE_CHARS = 64;
export const MAX_NODES = 500;
/**
 * The longest a document may be once normalised to JSON (defaults filled in): what one table entity holds
 * (`shared/stores/largeText.ts` MAX_TEXT_CHARS). Checked after the schema; named in the refusal.
 */
export const MAX_DOCUMENT_CHARS = 480_000;

const azureVmId =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Compute\/virtualMachines\/[^/]+$/i;
/** ocid1.instance.<realm>.<region>[.<future use>].<unique id> */
const azureScaleSetId =
  /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.Compute\/virtualMachineScaleSets\/[^/]+$/i;
/** ocid1.instancepool… or ocid1.compartment… (a compartment's OCID has an empty region field). */
const ociGroupId =
  /^ocid1\.(?:instancepool|compartment)\.[a-z0-9-]+\.[a-z0-9-]*(?:\.[a-z0-9-]*)?\.[a-z0-9]+$/;
const ociInstanceId = /^ocid1\.instance\.[a-z0-9-]+\.[a-z0-9-]*(?:\.[a-z0-9-]*)?\.[a-z0-9]+$/;

export const siteSchema = z
  .object({
    cloud: z.enum(['azure', 'oci', 'on-prem']),
    region: z.string().min(1).max(64),
    zone: z.string().min(1).max(64).optional(),
  })
  .strict();

export const computeSchema = z.discriminatedUnion('kind', [
  z
    .object({
      kind: z.literal('azure-vm'),
      resourceId: z
        .string()
        .max(MAX_RESOURCE_ID_CHARS, `must be at most ${MAX_RESOURCE_ID_CHARS} characters`)
        .regex(azureVmId, 'must be an Azure VM resource id'),
    })
    .strict(),
  z
    .object({
      kind: z.literal('oci-instance'),
      ocid: z
        .string()
        .max(MAX_OCID_CHARS, `must be at most ${MAX_OCID_CHARS} characters`)
        .regex(ociInstanceId, 'must be an OCI instance OCID'),
    })
    .strict(),
  z.object({ kind: z.literal('none') }).strict(),
]);

export const nodeSchema = z
  .object({
    id,
    role: z.enum(['active', 'standby']),
    site: siteSchema,
    compute: computeSchema.default({ kind: 'none' }),
    /** Lower wins an arbitration tie. */
    priority: z.number().int().min(0).max(1000).default(100),
    /**
     * The node's VM size (Azure, e.g. Standard_D4s_v5) or shape (OCI, e.g. VM.Standard.E5.Flex): what a validate
     * drill checks the quota headroom of, when the node is stopped and a failover would have to start it.
     */
    size: z
      .string()
      .min(1)
      .max(MAX_SIZE_CHARS, `must be at most ${MAX_SIZE_CHARS} characters`)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a VM size or shape name (letters, digits, . _ -)')
      .optional(),
  })
  .strict();

export const detectionSchema = z
  .object({
    heartbeatIntervalMs: z.number().int().min(200).max(60_000).default(1000),
    missedHeartbeats: z.number().int().min(2).max(100).default(5),
    leaseMs: z.number().int().min(1000).max(300_000).default(4000),
    driftMarginMs: z.number().int().min(0).max(60_000).default(500),
    /**
     * Peer promises (issue 15): while the active cannot renew its lease from the control plane it may hold a peer
     * lease — a promise from every node that could be promoted under its epoch to accept no promotion until the
     * lease ends — instead of self-fencing; the control plane then records each epoch's promotable set, sends it
     * with every lease grant, and does not fail over while a standby reports such a promise to the active. Default
     * true; false: no promotable set is recorded for new epochs, and the active self-fences when it loses the
     * control plane, as before. A document stored before the key existed reads as true (`peerLeasesOn`).
     */
    peerLeases: z.boolean().default(true),
  })
  .strict();

/** Whether peer leases are on for a cluster's detection policy (absent in documents stored before them: on). */
export const peerLeasesOn = (detection: { peerLeases?: boolean } | undefined): boolean =>
  detection?.peerLeases !== false;

export const failoverSchema = z
  .object({
    mode: z.enum(['automatic', 'manual']).default('automatic'),
    cooldownMs: z.number().int().min(0).max(86_400_000).default(300_000),
    maxFailoversPerPeriod: z.number().int().min(1).max(100).default(3),
    periodMs: z
      .number()
      .int()
      .min(60_000)
      .max(7 * 86_400_000)
      .default(3_600_000),
    rtoObjectiveMs: z.number().int().min(1000).max(BOUNDS.durationMs).default(60_000),
    rpoObjectiveMs: z.number().int().min(0).max(BOUNDS.durationMs).default(0),
    /**
     * How many healthy heartbeats in a row a promoted node must send as the active before the operation counts the
     * switchover verified.
     */
    verifyHeartbeats: z.number().int().min(1).max(20).default(2),
    /**
     * How long a promoted node has to run its promote hooks and report as the active before the failover tries the
     * next candidate (make-active: rolls back). A node that stops heartbeating fails sooner (one detection window).
     */
    promoteTimeoutMs: z.number().int().min(1000).max(BOUNDS.durationMs).default(120_000),
    /**
     * A node whose agent fences a failed active through its `fence-peer` hook (IPMI/Redfish power-off through the
     * BMC, as BCM does). Raced with the other fences; its acknowledgement under the revoked epoch is the evidence.
     */
    fencerNodeId: id.optional(),
  })
  .strict();

/**
 * The witness account is the control plane's `WitnessStorage` setting, its container and lease duration are the
 * control plane's (`shared/witness/blobWitness.ts`): a document names only what is per cluster.
 */
export const witnessSchema = z
  .object({
    arbitrationWindowMs: z.number().int().min(100).max(30_000).default(2000),
  })
  .strict(
    'witness accepts only arbitrationWindowMs: the witness account is the WitnessStorage setting, and its container and lease duration are set by the control plane, not per cluster',
  );

/** A 6-field NCRONTAB expression (seconds first, UTC), as the drill timer evaluates it. */
export function ncrontabProblem(expression: string): string | undefined {
  const fields = expression.trim().split(/\s+/);
  if (fields.length !== 6)
    return 'must be a 6-field NCRONTAB expression: {second} {minute} {hour} {day} {month} {day-of-week}';
  try {
    new Cron(expression.trim(), { paused: true, timezone: 'UTC', domAndDow: true });
    return undefined;
  } catch (error) {
    return `is not a valid NCRONTAB expression: ${(error as Error).message}`;
  }
}

/** When and how a cluster is drilled (absent: never on a schedule; a drill by hand uses the defaults). */
export const drillSchema = z
  .object({
    /** When the drill timer starts a drill (6-field NCRONTAB, UTC); absent: only by hand. */
    schedule: z
      .string()
      .max(MAX_SCHEDULE_CHARS, `must be at most ${MAX_SCHEDULE_CHARS} characters`)
      .superRefine((value, ctx) => {
        if (value.length > MAX_SCHEDULE_CHARS) return;
        const problem = ncrontabProblem(value);
        if (problem) ctx.addIssue({ code: z.ZodIssueCode.custom, message: problem });
      })
      .optional(),
    /**
     * validate (non-disruptive): every precondition of a real failover checked and timed. switchover: a planned
     * make-active to the drill target and back. failover (disruptive, needs allowFailover): the active agent goes
     * silent so detection, fencing and promotion run for real.
     */
    mode: z.enum(['validate', 'switchover', 'failover']).default('validate'),
    /** The node a switchover or failover drill moves the active role to (default: the best standby). */
    targetNodeId: id.optional(),
    /** Opt-in for the disruptive failover mode (scheduled, or started by hand with confirm: true). */
    allowFailover: z.boolean().default(false),
    /** The largest agent clock offset the agent-clock check accepts. */
    clockToleranceMs: z.number().int().min(0).max(600_000).default(1000),
  })
  .strict();
export type DrillPolicy = z.infer<typeof drillSchema>;

/** Capacity spillover pools (issue 11): bounds named in the refusals. */
export const MAX_POOLS = 16;
export const MAX_POOL_SITES = 32;
export const MAX_POOL_DESIRED = 10_000;
export const MAX_POOL_COOLDOWN_MS = 7 * 86_400_000;

/**
 * How long a (site, size) is left alone after a launch there fails, per error kind (see ARCHITECTURE.md, Decisions:
 * "Spillover cool-downs"). `throttled` applies only when the cloud sends no Retry-After.
 */
export const DEFAULT_POOL_COOLDOWN_MS = {
  allocationFailed: 15 * 60_000,
  quota: 60 * 60_000,
  zonalRestriction: 6 * 3_600_000,
  sizeNotOffered: 23 * 3_600_000,
  throttled: 60_000,
} as const;

const cooldown = (fallback: number) =>
  z
    .number()
    .int()
    .min(0)
    .max(MAX_POOL_COOLDOWN_MS, `must be at most ${MAX_POOL_COOLDOWN_MS} ms (7 days)`)
    .default(fallback);

export const poolCooldownSchema = z
  .object({
    allocationFailed: cooldown(DEFAULT_POOL_COOLDOWN_MS.allocationFailed),
    quota: cooldown(DEFAULT_POOL_COOLDOWN_MS.quota),
    zonalRestriction: cooldown(DEFAULT_POOL_COOLDOWN_MS.zonalRestriction),
    sizeNotOffered: cooldown(DEFAULT_POOL_COOLDOWN_MS.sizeNotOffered),
    throttled: cooldown(DEFAULT_POOL_COOLDOWN_MS.throttled),
  })
  .strict();

/** One place a pool may put nodes: a region (and zone / availability domain) of one cloud, with one size. */
export const poolSiteSchema = z
  .object({
    id,
    cloud: z.enum(['azure', 'oci']),
    region: z.string().min(1).max(64),
    /** Azure availability zone or OCI availability domain. */
    zone: z.string().min(1).max(64).optional(),
    /** VM size (Azure) or shape (OCI). */
    size: z
      .string()
      .min(1)
      .max(MAX_SIZE_CHARS, `must be at most ${MAX_SIZE_CHARS} characters`)
      .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'must be a VM size or shape name (letters, digits, . _ -)'),
    /** Azure VM scale set resource id, or OCI instance pool / compartment OCID. */
    group: z
      .string()
      .min(1)
      .max(MAX_RESOURCE_ID_CHARS, `must be at most ${MAX_RESOURCE_ID_CHARS} characters`),
    /** Cost of a node here: among consecutive sites of one cloud and region, the lower weight is filled first. */
    weight: z.number().positive().max(1_000_000).default(1),
    /** At most this many nodes here. */
    cap: z.number().int().min(0).max(MAX_POOL_DESIRED, `must be at most ${MAX_POOL_DESIRED}`).optional(),
    /** Nodes kept here first when there is headroom, removed last. */
    min: z.number().int().min(0).max(MAX_POOL_DESIRED, `must be at most ${MAX_POOL_DESIRED}`).optional(),
  })
  .strict();

export const poolSchema = z
  .object({
    id,
    desired: z.number().int().min(0).max(MAX_POOL_DESIRED, `must be at most ${MAX_POOL_DESIRED}`),
    cooldownMs: poolCooldownSchema.default({}),
    /**
     * How many idle nodes one spillover run moves from less preferred sites back to preferred ones when room returns
     * there (0: never; absent: 4).
     */
    spillBackBatch: z.number().int().min(0).max(100).optional(),
    /** In order of preference: the planner fills the first site first. */
    sites: z.array(poolSiteSchema).min(1).max(MAX_POOL_SITES, `must have at most ${MAX_POOL_SITES} sites`),
  })
  .strict();
export type Pool = z.infer<typeof poolSchema>;
export type PoolSite = Pool['sites'][number];

export const clusterDocumentSchema = z
  .object({
    id,
    kind: z.enum(['active-passive', 'two-node-witness', 'multi-region']),
    description: z.string().max(500).optional(),
    nodes: z.array(nodeSchema).min(2).max(MAX_NODES, `must have at most ${MAX_NODES} nodes`),
    witness: witnessSchema.default({}),
    detection: detectionSchema.default({}),
    failover: failoverSchema.default({}),
    drill: drillSchema.optional(),
    pools: z.array(poolSchema).max(MAX_POOLS, `must have at most ${MAX_POOLS} pools`).optional(),
  })
  .strict()
  .strict()
  .superRefine((doc, ctx) => {
    for (const problem of crossFieldProblems(doc)) ctx.addIssue({ code: 'custom', ...problem });
  });

interface LooseDocument {
  kind?: unknown;
  nodes?: unknown;
  detection?: unknown;
  failover?: unknown;
  pools?: unknown;
}

const record = (value: unknown): Record<string, unknown> | undefined =>
  typeof value === 'object' && value !== null && !Array.isArray(value)
    ? (value as Record<string, unknown>)
    : undefined;

/**
 * The rules across fields (unique ids, one active, node count of a two-node-witness cluster, lease and margin). They
 * run on whatever can be evaluated, so a document with other problems (an invalid enum) still lists these too:
 * a rule is skipped only when a field it needs is missing or of the wrong type.
 */
export function crossFieldProblems(input: LooseDocument): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  const nodes = Array.isArray(input.nodes) ? input.nodes.map(record) : undefined;
  if (nodes) {
    const seen = new Set<string>();
    nodes.forEach((node, i) => {
      const nodeId = node?.id;
      if (typeof nodeId !== 'string') return;
      if (seen.has(nodeId))
        problems.push({ path: ['nodes', i, 'id'], message: `duplicate node id "${nodeId}"` });
      seen.add(nodeId);
    });
    const roles = nodes.map((n) => n?.role);
    const actives = roles.filter((r) => r === 'active').length;
    // With a role missing or invalid, "none active" is not known yet; "more than one" is.
    const allRolesValid = roles.every((r) => r === 'active' || r === 'standby');
    if (actives > 1 || (actives === 0 && allRolesValid))
      problems.push({
        path: ['nodes'],
        message: `exactly one node must have role "active" (found ${actives})`,
      });
    if (input.kind === 'two-node-witness' && nodes.length !== 2) {
      problems.push({ path: ['nodes'], message: 'a two-node-witness cluster has exactly 2 nodes' });
    }
    const fencer = input.failover === undefined ? undefined : record(input.failover)?.fencerNodeId;
    if (typeof fencer === 'string' && !nodes.some((n) => n?.id === fencer))
      problems.push({
        path: ['failover', 'fencerNodeId'],
        message: `"${fencer}" is not a node of this cluster`,
      });
  }
  const detection = input.detection === undefined ? {} : record(input.detection);
  if (detection) {
    const num = (name: string, fallback: number) =>
      detection[name] === undefined
        ? fallback
        : typeof detection[name] === 'number'
          ? detection[name]
          : undefined;
    const heartbeatIntervalMs = num('heartbeatIntervalMs', 1000);
    const leaseMs = num('leaseMs', 4000);
    const driftMarginMs = num('driftMarginMs', 500);
    if (leaseMs !== undefined && heartbeatIntervalMs !== undefined && leaseMs < 2 * heartbeatIntervalMs) {
      problems.push({
        path: ['detection', 'leaseMs'],
        message: 'must be at least twice heartbeatIntervalMs so a lease survives one lost heartbeat',
      });
    }
    if (leaseMs !== undefined && driftMarginMs !== undefined) {
      const minMargin = minDriftMarginMs(leaseMs);
      if (driftMarginMs < minMargin) {
        problems.push({
          path: ['detection', 'driftMarginMs'],
          message:
            `must cover ${MAX_CLOCK_DRIFT_RATE * 100}% clock drift of both the agent and the control plane over the ` +
            `lease: at least ${minMargin}`,
        });
      }
    }
  }
  problems.push(...poolProblems(input.pools));
  return problems;
}

/**
 * The pools' cross-field rules: unique pool ids, unique site ids within a pool, a site's min at most its cap, and the
 * group's format for the site's cloud. Σ min ≤ desired is not required: the planner meets the minimums in site order
 * while the demand lasts (see shared/domain/spilloverPlan.ts).
 */
function poolProblems(input: unknown): { path: (string | number)[]; message: string }[] {
  const problems: { path: (string | number)[]; message: string }[] = [];
  if (!Array.isArray(input)) return problems;
  const poolIds = new Set<string>();
  input.map(record).forEach((pool, p) => {
    if (!pool) return;
    if (typeof pool.id === 'string') {
      if (poolIds.has(pool.id))
        problems.push({ path: ['pools', p, 'id'], message: `duplicate pool id "${pool.id}"` });
      poolIds.add(pool.id);
    }
    if (!Array.isArray(pool.sites)) return;
    const siteIds = new Set<string>();
    pool.sites.map(record).forEach((site, s) => {
      if (!site) return;
      if (typeof site.id === 'string') {
        if (siteIds.has(site.id))
          problems.push({
            path: ['pools', p, 'sites', s, 'id'],
            message: `duplicate site id "${site.id}" in this pool`,
          });
        siteIds.add(site.id);
      }
      if (typeof site.min === 'number' && typeof site.cap === 'number' && site.min > site.cap)
        problems.push({
          path: ['pools', p, 'sites', s, 'min'],
          message: `must be at most cap (${site.cap})`,
        });
      const group = site.group;
      if (typeof group === 'string' && group.length <= MAX_RESOURCE_ID_CHARS) {
        if (site.cloud === 'azure' && !azureScaleSetId.test(group))
          problems.push({
            path: ['pools', p, 'sites', s, 'group'],
            message: 'must be an Azure VM scale set resource id on an azure site',
          });
        if (site.cloud === 'oci' && (group.length > MAX_OCID_CHARS || !ociGroupId.test(group)))
          problems.push({
            path: ['pools', p, 'sites', s, 'group'],
            message: `must be an OCI instance pool or compartment OCID (at most ${MAX_OCID_CHARS} characters) on an oci site`,
          });
      }
    });
  });
  return problems;
}

export type ClusterDocument = z.infer<typeof clusterDocumentSchema>;
export type ClusterNode = ClusterDocument['nodes'][number];
export type DetectionPolicy = ClusterDocument['detection'];

export interface DocumentProblem {
  path: string;
  message: string;
}

export type ParseResult = { ok: true; value: ClusterDocument } | { ok: false; problems: DocumentProblem[] };

/** Validates a cluster document, listing every problem with its path (`nodes[1].site.region`). */
export function parseClusterDocument(input: unknown): ParseResult {
  const result = clusterDocumentSchema.safeParse(input);
  if (result.success) {
    // As stored: JSON with every non-ASCII character escaped to 6 characters (shared/stores/largeText.ts storedJson).
    const json = JSON.stringify(result.data);
    const size = json.length + 5 * (json.match(/[\u0080-\uffff]/g)?.length ?? 0);
    if (size > MAX_DOCUMENT_CHARS)
      return {
        ok: false,
        problems: [
          {
            path: '(document)',
            message: `is ${size} characters as JSON; at most ${MAX_DOCUMENT_CHARS} can be stored`,
          },
        ],
      };
    return { ok: true, value: result.data };
  }
  const issues: { path: (string | number)[]; message: string }[] = result.error.issues;
  // The schema's cross-field rules run only when every field parsed: evaluate them on the input as well.
  const loose = record(input);
  const seen = new Set(issues.map((i) => `${i.path.join('.')}\n${i.message}`));
  const extra = loose
    ? crossFieldProblems(loose).filter((p) => !seen.has(`${p.path.join('.')}\n${p.message}`))
    : [];
  return {
    ok: false,
    problems: [...issues, ...extra].map((issue) => ({
      path:
        issue.path.reduce<string>(
          (acc, part) => (typeof part === 'number' ? `${acc}[${part}]` : acc ? `${acc}.${part}` : part),
          '',
        ) || '(document)',
      message: issue.message,
    })),
  };
}
