import { accessSync, constants as fsConstants, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import YAML from 'yaml';
import { z } from 'zod';
import { isId } from '../shared/auth/ids';
import { NODE_KEY_BYTES } from '../shared/auth/nodeKeys';

/** The query the GPU check runs by default (one CSV line per GPU). */
export const NVIDIA_SMI_QUERY = [
  'nvidia-smi',
  '--query-gpu=index,utilization.gpu,memory.used,memory.total,ecc.errors.uncorrected.volatile.total',
  '--format=csv,noheader,nounits',
];

/** Check names the agent uses for its own reports in the heartbeat. */
export const RESERVED_CHECK_PREFIX = 'hook:';
/** The control plane accepts at most 32 checks per heartbeat; the agent keeps room for its hook reports. */
export const MAX_CONFIGURED_CHECKS = 28;

const ms = (min: number, max: number) => z.number().int().min(min).max(max);
const name = z
  .string()
  .min(1)
  .max(64)
  .regex(/^[A-Za-z0-9][A-Za-z0-9_.:-]*$/, 'must be letters, digits, "_", ".", ":" or "-"');
const argv = z
  .array(z.string().min(1, 'an argument must not be empty'), {
    invalid_type_error: 'must be a list: the program and its arguments, e.g. [/usr/bin/cmha, status]',
  })
  .min(1, 'must name at least the program');
const envSchema = z.record(
  z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'must be an environment variable name'),
  z.string(),
);

const commandCheck = z
  .object({
    type: z.literal('command'),
    name,
    command: argv,
    env: envSchema.optional(),
    timeoutMs: ms(100, 600_000).default(5000),
  })
  .strict();
const tcpCheck = z
  .object({
    type: z.literal('tcp'),
    name,
    host: z.string().min(1),
    port: z.number().int().min(1).max(65535),
    timeoutMs: ms(100, 600_000).default(2000),
  })
  .strict();
const httpCheck = z
  .object({
    type: z.literal('http'),
    name,
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), 'must be an http:// or https:// URL'),
    /** Statuses that count as healthy; default any 2xx or 3xx. */
    expectStatus: z
      .union([z.number().int().min(100).max(599), z.array(z.number().int().min(100).max(599)).min(1)])
      .optional(),
    /** Skip TLS verification (for a local endpoint with a self-signed certificate). */
    insecure: z.boolean().default(false),
    timeoutMs: ms(100, 600_000).default(3000),
  })
  .strict();
const gpuCheck = z
  .object({
    type: z.literal('gpu'),
    name: name.default('gpu'),
    command: argv.default(NVIDIA_SMI_QUERY),
    timeoutMs: ms(100, 600_000).default(10_000),
  })
  .strict();

/**
 * Replication lag, sent as a check and as the heartbeat's `replicationLagMs`: either a command that prints the lag
 * in milliseconds (its first number), or a file whose age (now − its modification time) is the lag, e.g. one the
 * replication touches after every applied batch. Exactly one of `command` and `file`.
 */
const replicationCheck = z
  .object({
    type: z.literal('replication'),
    name: name.default('replication'),
    command: argv.optional(),
    env: envSchema.optional(),
    file: z.string().min(1).optional(),
    /** The check reports warn above this lag, fail above `failAboveMs` (the lag is sent either way). */
    warnAboveMs: ms(0, 2 ** 31 - 1).optional(),
    failAboveMs: ms(0, 2 ** 31 - 1).optional(),
    timeoutMs: ms(100, 600_000).default(5000),
  })
  .strict();

const checkSchema = z.discriminatedUnion(
  'type',
  [commandCheck, tcpCheck, httpCheck, gpuCheck, replicationCheck],
  {
    errorMap: (issue, ctx) =>
      issue.code === 'invalid_union_discriminator'
        ? { message: 'type must be one of command, tcp, http, gpu, replication' }
        : { message: ctx.defaultError },
  },
);

const stepSchema = z
  .object({
    name: name.optional(),
    command: argv,
    env: envSchema.optional(),
    cwd: z.string().min(1).optional(),
    timeoutMs: ms(100, 3_600_000).default(60_000),
    retries: z.number().int().min(0).max(10).default(0),
    retryDelayMs: ms(0, 600_000).default(1000),
  })
  .strict();
/** A hook is a list of steps; a single step may be written without the list. */
const stepsSchema = z.preprocess((v) => (v === undefined || Array.isArray(v) ? v : [v]), z.array(stepSchema));

const hooksSchema = z
  .object({
    prePromote: stepsSchema.default([]),
    promote: stepsSchema.default([]),
    postPromote: stepsSchema.default([]),
    preDemote: stepsSchema.default([]),
    demote: stepsSchema.default([]),
    postDemote: stepsSchema.default([]),
    preFence: stepsSchema.default([]),
    fence: stepsSchema.default([]),
    postFence: stepsSchema.default([]),
    /**
     * Fences another node (a `fence-peer` command: power it off through its BMC). No pre or post steps: the steps run
     * in order and the first failing one ends it as failed (a power-off is either verified or not).
     */
    fencePeer: stepsSchema.default([]),
  })
  .strict();

/**
 * A peer this node may fence, with its BMC (handed to the `fencePeer` hook as FP_BMC_*). The password is never in
 * this file nor read by the agent: `passwordFile` is a path the hook reads (`ipmitool -f`, a Redfish client).
 */
const peerSchema = z
  .object({
    bmc: z
      .object({
        /** Host name or address (IPMI), or the Redfish service's https:// URL. */
        address: z.string().min(1).max(255),
        user: z.string().min(1).max(128).optional(),
        passwordFile: z.string().min(1).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();

const pin = z
  .string()
  .transform((v) => v.replace(/:/g, '').toLowerCase())
  .refine((v) => /^[0-9a-f]{64}$/.test(v), 'must be a SHA-256 fingerprint: 64 hex digits, colons allowed');

const fileSchema = z
  .object({
    cluster: z.string().refine(isId, 'must be a cluster id: 1-63 lowercase letters, digits or single dashes'),
    node: z.string().refine(isId, 'must be a node id: 1-63 lowercase letters, digits or single dashes'),
    controlPlane: z
      .object({
        url: z.string().url(),
        /** PEM bundle of the CAs that may sign the control plane's certificate (default: the system's). */
        caFile: z.string().min(1).optional(),
        /** SHA-256 fingerprint(s) of the control plane's certificate (DER); with a pin, nothing else is trusted. */
        pinnedSha256: z.union([pin, z.array(pin).min(1)]).optional(),
        requestTimeoutMs: ms(500, 120_000).default(5000),
        arbitrateTimeoutMs: ms(1000, 300_000).default(15_000),
        /** At start, give up (exit 3) if no heartbeat was answered within this time; 0 = keep trying. */
        firstContactTimeoutMs: ms(0, 86_400_000).default(60_000),
        /** Allow http:// (tests and local demos only: nothing protects the requests). */
        allowInsecureHttp: z.boolean().default(false),
      })
      .strict(),
    key: z
      .object({
        /** The file holding the node key, base64, as POST /api/v1/clusters/{c}/nodes/{n}/key returned it. */
        file: z.string().min(1),
        version: z.number().int().min(1).default(1),
      })
      .strict(),
    stateDir: z.string().min(1),
    heartbeat: z
      .object({
        /** Used until the control plane's first answer says otherwise (heartbeatIntervalMs). */
        initialIntervalMs: ms(100, 60_000).default(1000),
        jitterRatio: z.number().min(0).max(0.5).default(0.1),
        maxBackoffMs: ms(100, 600_000).default(30_000),
      })
      .strict()
      .default({}),
    lease: z
      .object({
        /**
         * Start the self-fence this long before the lease runs out, so the demote hook finishes while the lease
         * still holds (at most half the lease is used).
         */
        fenceMarginMs: ms(0, 60_000).default(1000),
      })
      .strict()
      .default({}),
    /** How often the checks run; default: the heartbeat interval. */
    checkIntervalMs: ms(100, 3_600_000).optional(),
    checks: z.array(checkSchema).max(MAX_CONFIGURED_CHECKS).default([]),
    hooks: hooksSchema.default({}),
    /** The nodes a `fence-peer` command may name (none listed: any other node), with their BMC details. */
    peers: z
      .record(
        z.string().refine(isId, 'must be a node id: 1-63 lowercase letters, digits or single dashes'),
        peerSchema,
      )
      .default({}),
    /**
     * Peer promises (ARCHITECTURE.md "Peer promises"): the listener other nodes of the cluster ask for promises, and
     * the peer key that signs and verifies those requests. Without it, this node neither gives nor asks for promises.
     */
    peerListener: z
      .object({
        /** The address to listen on. */
        address: z.string().min(1).max(255).default('0.0.0.0'),
        /** The TCP port (0: any free port, for tests). */
        port: z.number().int().min(0).max(65535),
        /** Where the other nodes reach the listener: http(s)://host:port. Required with a wildcard address. */
        advertiseUrl: z
          .string()
          .max(300)
          .regex(/^https?:\/\/[A-Za-z0-9._\-:[\]]+(\/)?$/, 'must be http(s)://host:port')
          .optional(),
        /** The file holding the cluster's peer key, base64 (issued with the node key at enrollment). */
        keyFile: z.string().min(1),
      })
      .strict()
      .optional(),
    arbitration: z
      .object({
        /** A tcp or command check that probes the peer. */
        peerCheck: name,
        /** How long the peer check must fail without a break before the agent asks the witness. */
        failForMs: ms(0, 3_600_000).default(5000),
        /** How long to keep polling a pending arbitration. */
        pollTimeoutMs: ms(1000, 3_600_000).default(60_000),
      })
      .strict()
      .optional(),
    shutdown: z
      .object({
        /** How long SIGTERM waits for a running hook before stopping it. */
        timeoutMs: ms(0, 3_600_000).default(30_000),
        /** Demote (run the demote hook) when stopped while active. Turning it off leaves the services unfenced. */
        demoteIfActive: z.boolean().default(true),
      })
      .strict()
      .default({}),
    log: z
      .object({ level: z.enum(['debug', 'info', 'warn', 'error']).default('info') })
      .strict()
      .default({}),
  })
  .strict();

/**
 * Rules across fields, checked on the raw document so that they are reported together with the schema's problems
 * (zod skips refinements of an object whose fields failed).
 */
function crossFieldProblems(raw: Record<string, unknown>): string[] {
  const problems: string[] = [];
  const record = (v: unknown): Record<string, unknown> =>
    typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
  const checks = Array.isArray(raw.checks) ? raw.checks.map(record) : [];
  const nameOf = (c: Record<string, unknown>) =>
    typeof c.name === 'string' ? c.name : c.type === 'gpu' || c.type === 'replication' ? c.type : undefined;
  const seen = new Set<string>();
  checks.forEach((check, index) => {
    const checkName = nameOf(check);
    if (checkName === undefined) return;
    if (seen.has(checkName)) problems.push(`checks[${index}].name: duplicate name ${checkName}`);
    seen.add(checkName);
    if (checkName.startsWith(RESERVED_CHECK_PREFIX))
      problems.push(
        `checks[${index}].name: names starting with "${RESERVED_CHECK_PREFIX}" are the agent's hook reports`,
      );
  });
  checks.forEach((check, index) => {
    if (check.type !== 'replication') return;
    if ((check.command === undefined) === (check.file === undefined))
      problems.push(`checks[${index}]: a replication check needs exactly one of command and file`);
    if (check.env !== undefined && check.command === undefined)
      problems.push(`checks[${index}].env: only for a replication check with a command`);
  });
  if (checks.filter((c) => c.type === 'replication').length > 1)
    problems.push("checks: at most one replication check (its lag is the heartbeat's replicationLagMs)");
  if (typeof raw.node === 'string' && Object.hasOwn(record(raw.peers), raw.node))
    problems.push(`peers.${raw.node}: this node itself (a node fences itself through its fence hook)`);
  const arbitration = record(raw.arbitration);
  if (typeof arbitration.peerCheck === 'string') {
    const peer = checks.find((c) => nameOf(c) === arbitration.peerCheck);
    if (!peer || (peer.type !== 'tcp' && peer.type !== 'command'))
      problems.push(
        `arbitration.peerCheck: must name a configured tcp or command check (${arbitration.peerCheck} is not one)`,
      );
  }
  if (raw.peerListener !== undefined) {
    const listener = record(raw.peerListener);
    const address = typeof listener.address === 'string' ? listener.address : '0.0.0.0';
    if (listener.advertiseUrl === undefined && isWildcardAddress(address))
      problems.push(
        `peerListener.advertiseUrl: required when the listener's address is ${address} (the other nodes need an address they can reach)`,
      );
    if (typeof listener.advertiseUrl === 'string' && !safeUrl(listener.advertiseUrl)?.port)
      problems.push('peerListener.advertiseUrl: must name the port (http(s)://host:port)');
  }
  const controlPlane = record(raw.controlPlane);
  const url = typeof controlPlane.url === 'string' ? safeUrl(controlPlane.url) : undefined;
  if (
    url &&
    url.protocol !== 'https:' &&
    !(url.protocol === 'http:' && controlPlane.allowInsecureHttp === true)
  )
    problems.push('controlPlane.url: must be an https:// URL (http:// only with allowInsecureHttp: true)');
  if (url && (url.search || url.hash)) problems.push('controlPlane.url: must not have a query or fragment');
  if (
    raw.checkIntervalMs === undefined &&
    checks.some((c) => typeof c.timeoutMs === 'number' && c.timeoutMs > 60_000)
  )
    problems.push('checkIntervalMs: set it explicitly when a check may run longer than a minute');
  return problems;
}

/** 0.0.0.0, :: and the like: a listener address the other nodes cannot use to reach this one. */
export const isWildcardAddress = (address: string): boolean =>
  ['0.0.0.0', '::', '[::]', '::0', '0:0:0:0:0:0:0:0'].includes(address);

/** The URL the other nodes reach a peer listener at: the configured one, else http://<address>:<port>. */
export function peerAdvertiseUrl(listener: { address: string; port: number; advertiseUrl?: string }): string {
  if (listener.advertiseUrl) return listener.advertiseUrl.replace(/\/$/, '');
  const host = listener.address.includes(':')
    ? `[${listener.address.replace(/^\[|\]$/g, '')}]`
    : listener.address;
  return `http://${host}:${listener.port}`;
}

function safeUrl(text: string): URL | undefined {
  try {
    return new URL(text);
  } catch {
    return undefined;
  }
}

type FileConfig = z.infer<typeof fileSchema>;
export type CheckConfig = FileConfig['checks'][number];
export type HookStep = z.infer<typeof stepSchema>;
export type HooksConfig = FileConfig['hooks'];
export type HookOperation = 'promote' | 'demote' | 'fence' | 'fence-peer';
export type PeersConfig = FileConfig['peers'];

/** The validated configuration. It holds no secret: the node key is returned next to it. */
export interface AgentConfig extends Omit<FileConfig, 'controlPlane' | 'key'> {
  configFile: string;
  clusterId: string;
  nodeId: string;
  controlPlane: Omit<FileConfig['controlPlane'], 'url' | 'pinnedSha256'> & {
    url: URL;
    /** Lowercase hex, no colons. */
    pins: string[];
    ca?: Buffer;
  };
  key: FileConfig['key'];
}

export type LoadedConfig =
  | {
      ok: true;
      config: AgentConfig;
      key: Buffer;
      /** The peer key, when `peerListener` is configured (kept apart from the configuration, like the node key). */
      peerKey?: Buffer;
      warnings: string[];
    }
  | { ok: false; errors: string[] };

const where = (p: (string | number)[]) =>
  p.reduce<string>(
    (out, part) => (typeof part === 'number' ? `${out}[${part}]` : out ? `${out}.${part}` : part),
    '',
  ) || '(top level)';

/** Reads the node key file: base64 of at least 32 bytes. Problems are returned, never the key's content. */
function readKeyFile(
  file: string,
  what = 'node key',
  endpoint = 'as the key endpoint returned it',
): { key?: Buffer; problem?: string; warning?: string } {
  let text: string;
  try {
    text = readFileSync(file, 'utf8').trim();
  } catch (error) {
    return { problem: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}` };
  }
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(text))
    return { problem: `${file} must hold the ${what} in base64 (${endpoint})` };
  const key = Buffer.from(text, 'base64');
  if (key.length < NODE_KEY_BYTES)
    return { problem: `${file} holds ${key.length} bytes; a ${what} has ${NODE_KEY_BYTES}` };
  let warning: string | undefined;
  try {
    if ((statSync(file).mode & 0o077) !== 0)
      warning = `${file} is readable by other users: chmod 600 it (owner: the agent's user)`;
  } catch {
    // checked by the read above
  }
  return { key, ...(warning ? { warning } : {}) };
}

/**
 * A BMC password file is the hook's to read: the agent only checks that it is there and private (a warning, not an
 * error: the agent's own safety duties do not depend on a peer's BMC), and never reads its content.
 */
function passwordFileWarning(where: string, file: string): string | undefined {
  try {
    accessSync(file, fsConstants.R_OK);
    if ((statSync(file).mode & 0o077) !== 0)
      return `${where}: ${file} is readable by other users: chmod 600 it (owner: the agent's user)`;
  } catch (error) {
    return `${where}: cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'} (fencing that peer will fail)`;
  }
  return undefined;
}

function readCaFile(file: string): { ca?: Buffer; problem?: string } {
  try {
    const ca = readFileSync(file);
    if (!ca.toString('utf8').includes('-----BEGIN CERTIFICATE-----'))
      return { problem: `${file} is not a PEM certificate bundle` };
    return { ca };
  } catch (error) {
    return { problem: `cannot read ${file}: ${(error as NodeJS.ErrnoException).code ?? 'error'}` };
  }
}

/**
 * Parses and validates a configuration (YAML text). Every problem is listed, each with its path: schema problems,
 * then unreadable files (key, CA bundle), so one run shows everything to fix. Relative paths are relative to the
 * configuration file's directory.
 */
export function parseConfig(text: string, configFile: string): LoadedConfig {
  const errors: string[] = [];
  const document = YAML.parseDocument(text);
  for (const error of document.errors) {
    // "… at line 3, column 1:" followed by the context: keep the first line.
    errors.push((error.message.split('\n')[0] ?? '').replace(/:$/, ''));
  }
  if (errors.length) return { ok: false, errors: errors.map((e) => `YAML: ${e}`) };
  const raw: unknown = document.toJS();
  if (raw === null || raw === undefined) return { ok: false, errors: ['the configuration file is empty'] };
  const dir = path.dirname(path.resolve(configFile));
  const resolve = (p: string) => path.resolve(dir, p);

  const parsed = fileSchema.safeParse(raw);
  if (!parsed.success)
    for (const issue of parsed.error.issues) errors.push(`${where(issue.path)}: ${issue.message}`);
  if (typeof raw !== 'object' || Array.isArray(raw)) return { ok: false, errors };
  const rawObject = raw as Record<string, unknown>;
  errors.push(...crossFieldProblems(rawObject));

  // Files are checked even when the schema failed elsewhere, so every problem shows in one run.
  const field = (section: string, key: string): unknown =>
    (rawObject[section] as Record<string, unknown> | undefined)?.[key];
  const warnings: string[] = [];
  let key: Buffer | undefined;
  const keyFile = field('key', 'file');
  if (typeof keyFile === 'string' && keyFile) {
    const read = readKeyFile(resolve(keyFile));
    if (read.problem) errors.push(`key.file: ${read.problem}`);
    if (read.warning) warnings.push(read.warning);
    key = read.key;
  }
  let peerKey: Buffer | undefined;
  const peerKeyFile = field('peerListener', 'keyFile');
  if (typeof peerKeyFile === 'string' && peerKeyFile) {
    const read = readKeyFile(resolve(peerKeyFile), 'peer key', 'as enrollment issued it');
    if (read.problem) errors.push(`peerListener.keyFile: ${read.problem}`);
    if (read.warning) warnings.push(read.warning);
    peerKey = read.key;
  }
  let ca: Buffer | undefined;
  const caFile = field('controlPlane', 'caFile');
  if (typeof caFile === 'string' && caFile) {
    const read = readCaFile(resolve(caFile));
    if (read.problem) errors.push(`controlPlane.caFile: ${read.problem}`);
    ca = read.ca;
  }
  if (errors.length || !parsed.success || !key) return { ok: false, errors };

  const data = parsed.data;
  const pins = data.controlPlane.pinnedSha256;
  const { url, pinnedSha256: _pins, ...controlPlane } = data.controlPlane;
  const config: AgentConfig = {
    ...data,
    configFile: path.resolve(configFile),
    clusterId: data.cluster,
    nodeId: data.node,
    stateDir: resolve(data.stateDir),
    key: { ...data.key, file: resolve(data.key.file) },
    ...(data.peerListener
      ? { peerListener: { ...data.peerListener, keyFile: resolve(data.peerListener.keyFile) } }
      : {}),
    controlPlane: {
      ...controlPlane,
      ...(controlPlane.caFile ? { caFile: resolve(controlPlane.caFile) } : {}),
      url: new URL(url.endsWith('/') ? url : `${url}/`),
      pins: pins === undefined ? [] : Array.isArray(pins) ? pins : [pins],
      ...(ca ? { ca } : {}),
    },
    checks: data.checks.map((c) =>
      c.type === 'replication' && c.file ? { ...c, file: resolve(c.file) } : c,
    ),
    hooks: Object.fromEntries(
      Object.entries(data.hooks).map(([hook, steps]) => [
        hook,
        steps.map((s) => (s.cwd ? { ...s, cwd: resolve(s.cwd) } : s)),
      ]),
    ) as HooksConfig,
    peers: Object.fromEntries(
      Object.entries(data.peers).map(([peer, p]) => [
        peer,
        p.bmc?.passwordFile ? { ...p, bmc: { ...p.bmc, passwordFile: resolve(p.bmc.passwordFile) } } : p,
      ]),
    ),
  };
  for (const [peer, p] of Object.entries(config.peers)) {
    const warning = p.bmc?.passwordFile
      ? passwordFileWarning(`peers.${peer}.bmc.passwordFile`, p.bmc.passwordFile)
      : undefined;
    if (warning) warnings.push(warning);
  }
  if (Object.keys(config.peers).length > 0 && config.hooks.fencePeer.length === 0)
    warnings.push('peers: listed, but no hooks.fencePeer is configured: fence-peer commands will be refused');
  if (config.peerListener && !peerKey)
    return { ok: false, errors: ['peerListener.keyFile: no peer key read'] };
  return { ok: true, config, key, ...(peerKey ? { peerKey } : {}), warnings };
}

export function loadConfig(configFile: string): LoadedConfig {
  let text: string;
  try {
    text = readFileSync(configFile, 'utf8');
  } catch (error) {
    return {
      ok: false,
      errors: [
        `cannot read the configuration file ${configFile}: ${(error as NodeJS.ErrnoException).code ?? 'error'}`,
      ],
    };
  }
  return parseConfig(text, configFile);
}
