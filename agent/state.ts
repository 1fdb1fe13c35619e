import { constants as fsConstants, promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { commandAckBodySchema, type CommandAckBody } from '../shared/contracts/agentApi';

/** What the agent is doing with the active role. Only `standby` is safe to start from. */
export type Role = 'standby' | 'promoting' | 'active' | 'demoting';
export type Outcome = 'ok' | 'warn' | 'fail';

export interface CommandRecord {
  id: string;
  type: 'promote' | 'demote' | 'fence' | 'fence-peer' | 'drill-silence';
  epoch: number;
  status: 'running' | 'ok' | 'warn' | 'fail' | 'refused' | 'interrupted';
  detail?: string;
  at: string;
}

/** The last outcome of a hook operation, sent in heartbeats as the check `hook:<operation>`. */
export interface HookReport {
  operation: 'promote' | 'demote' | 'fence';
  operationId: string;
  epoch: number;
  status: Outcome;
  detail: string;
  at: string;
}

/** The durable state (`state.json`): written with fsync and rename before the agent relies on it. */
export interface AgentState {
  version: 1;
  clusterId: string;
  nodeId: string;
  /** Every sequence number up to this one may have been used: the next run starts above it. */
  seqReserved: number;
  /** The highest epoch seen from the control plane: commands and grants under a lower one are refused. */
  highestEpoch: number;
  /** The highest epoch this node demoted (or fenced) itself under: no grant under it, or below, is accepted. */
  demotedEpoch: number;
  role: Role;
  /** The epoch of the current role when it is not `standby`. */
  roleEpoch: number | null;
  /** Commands seen, newest last (bounded): each id runs at most once. */
  commands: CommandRecord[];
  reports: Partial<Record<HookReport['operation'], HookReport>>;
  /**
   * Command acknowledgements not yet answered 2xx by the control plane, oldest first (bounded): sent as soon as a
   * command finishes, re-sent with backoff, every heartbeat cycle and after a restart.
   */
  pendingAcks: CommandAckBody[];
  /**
   * A failover drill's silence (a `drill-silence` command): no heartbeat or arbitration request until `until`
   * (ISO 8601, wall clock; timed on the monotonic clock while the process runs, kept here so that a restart during
   * the silence does not end it early). Absent when none was ever accepted.
   */
  drillSilence?: { commandId: string; epoch: number; silenceMs: number; until: string };
}

const stateSchema: z.ZodType<AgentState, z.ZodTypeDef, unknown> = z.object({
  version: z.literal(1),
  clusterId: z.string(),
  nodeId: z.string(),
  seqReserved: z.number().int().min(0),
  highestEpoch: z.number().int().min(0),
  demotedEpoch: z.number().int().min(0),
  role: z.enum(['standby', 'promoting', 'active', 'demoting']),
  roleEpoch: z.number().int().nullable(),
  commands: z.array(
    z.object({
      id: z.string(),
      type: z.enum(['promote', 'demote', 'fence', 'fence-peer', 'drill-silence']),
      epoch: z.number().int(),
      status: z.enum(['running', 'ok', 'warn', 'fail', 'refused', 'interrupted']),
      detail: z.string().optional(),
      at: z.string(),
    }),
  ),
  reports: z.record(
    z.object({
      operation: z.enum(['promote', 'demote', 'fence']),
      operationId: z.string(),
      epoch: z.number().int(),
      status: z.enum(['ok', 'warn', 'fail']),
      detail: z.string(),
      at: z.string(),
    }),
  ) as z.ZodType<AgentState['reports']>,
  // Absent in the state of an agent that predates acknowledgements.
  pendingAcks: z.array(commandAckBodySchema).default([]),
  drillSilence: z
    .object({
      commandId: z.string(),
      epoch: z.number().int(),
      silenceMs: z.number().int().min(0),
      until: z.string(),
    })
    .optional(),
});

export const MAX_COMMAND_RECORDS = 200;
/** Acknowledgements kept until the control plane answers them; the oldest is dropped beyond this. */
export const MAX_PENDING_ACKS = 20;

export function initialState(clusterId: string, nodeId: string): AgentState {
  return {
    version: 1,
    clusterId,
    nodeId,
    seqReserved: 0,
    highestEpoch: 0,
    demotedEpoch: 0,
    role: 'standby',
    roleEpoch: null,
    commands: [],
    reports: {},
    pendingAcks: [],
  };
}

/** Where state lives. The file implementation writes atomically; tests may use the in-memory one. */
export interface StateStore {
  load(): Promise<AgentState | undefined>;
  /** Durable: when it resolves, a crash keeps this state. */
  save(state: AgentState): Promise<void>;
  /** The status snapshot for `failover-agent status` (best effort, not synced). */
  saveStatus(status: unknown): Promise<void>;
}

export const STATE_FILE = 'state.json';
export const STATUS_FILE = 'status.json';
export const LOCK_FILE = 'agent.lock';

/** Writes `file` so that it holds either the old or the new content after any crash: temp file, fsync, rename. */
export async function writeFileAtomic(file: string, content: string, sync: boolean): Promise<void> {
  const temp = `${file}.${process.pid}.tmp`;
  const handle = await fs.open(temp, 'w', 0o600);
  try {
    await handle.writeFile(content, 'utf8');
    if (sync) await handle.sync();
  } finally {
    await handle.close();
  }
  await fs.rename(temp, file);
  if (sync) {
    // The rename itself must reach the disk too.
    const dir = await fs.open(path.dirname(file), fsConstants.O_RDONLY);
    try {
      await dir.sync();
    } finally {
      await dir.close();
    }
  }
}

export class FileStateStore implements StateStore {
  #chain: Promise<void> = Promise.resolve();

  constructor(readonly dir: string) {}

  async load(): Promise<AgentState | undefined> {
    let text: string;
    try {
      text = await fs.readFile(path.join(this.dir, STATE_FILE), 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      throw error;
    }
    const parsed = stateSchema.safeParse(JSON.parse(text));
    if (!parsed.success)
      throw new Error(
        `${path.join(this.dir, STATE_FILE)} is not a valid agent state: ${parsed.error.issues[0]?.message ?? ''}`,
      );
    return parsed.data;
  }

  save(state: AgentState): Promise<void> {
    return this.#serial(() =>
      writeFileAtomic(path.join(this.dir, STATE_FILE), JSON.stringify(state, null, 2) + '\n', true),
    );
  }

  saveStatus(status: unknown): Promise<void> {
    return this.#serial(() =>
      writeFileAtomic(path.join(this.dir, STATUS_FILE), JSON.stringify(status, null, 2) + '\n', false),
    );
  }

  #serial(write: () => Promise<void>): Promise<void> {
    const next = this.#chain.then(write);
    this.#chain = next.catch(() => undefined);
    return next;
  }
}

export class MemoryStateStore implements StateStore {
  state: AgentState | undefined;
  status: unknown;
  saves = 0;
  load(): Promise<AgentState | undefined> {
    return Promise.resolve(this.state ? structuredClone(this.state) : undefined);
  }
  save(state: AgentState): Promise<void> {
    this.state = structuredClone(state);
    this.saves++;
    return Promise.resolve();
  }
  saveStatus(status: unknown): Promise<void> {
    this.status = structuredClone(status);
    return Promise.resolve();
  }
}

/**
 * The in-memory state, with every change saved before the promise resolves (changes are applied and saved one at a
 * time, in order).
 */
export class StateKeeper {
  #state: AgentState;
  #chain: Promise<void> = Promise.resolve();

  constructor(
    private readonly store: StateStore,
    state: AgentState,
  ) {
    this.#state = state;
  }

  static async open(store: StateStore, clusterId: string, nodeId: string): Promise<StateKeeper> {
    const loaded = await store.load();
    if (loaded && (loaded.clusterId !== clusterId || loaded.nodeId !== nodeId))
      throw new Error(
        `the state directory belongs to ${loaded.clusterId}/${loaded.nodeId}, not ${clusterId}/${nodeId}: ` +
          'give each node its own stateDir',
      );
    return new StateKeeper(store, loaded ?? initialState(clusterId, nodeId));
  }

  /** A read-only view of the current state. */
  get current(): Readonly<AgentState> {
    return this.#state;
  }

  /** Applies `change` at once (readers see it) and resolves once it is on disk. */
  update(change: (state: AgentState) => void): Promise<void> {
    change(this.#state);
    if (this.#state.commands.length > MAX_COMMAND_RECORDS)
      this.#state.commands.splice(0, this.#state.commands.length - MAX_COMMAND_RECORDS);
    if (this.#state.pendingAcks.length > MAX_PENDING_ACKS)
      this.#state.pendingAcks.splice(0, this.#state.pendingAcks.length - MAX_PENDING_ACKS);
    const snapshot = structuredClone(this.#state);
    const next = this.#chain.then(() => this.store.save(snapshot));
    this.#chain = next.catch(() => undefined);
    return next;
  }
}

/**
 * Strictly increasing request sequence numbers that survive restarts and crashes. Numbers are reserved in blocks:
 * the reservation is saved (fsync, rename) before any number of the block is used, and a new run starts above the
 * last reservation, so no number is ever sent twice even if the agent dies right after reserving.
 */
export class SequenceAllocator {
  #next: number;
  /** The highest number a reservation (saved or being saved) covers. */
  #covered: number;
  /** The latest reservation being saved: a number it covers is used only once it is on disk. */
  #pending: Promise<void> = Promise.resolve();

  constructor(
    private readonly state: StateKeeper,
    private readonly blockSize = 256,
  ) {
    this.#next = state.current.seqReserved + 1;
    this.#covered = state.current.seqReserved;
  }

  /**
   * The next number, once its reservation is on disk. Safe to call concurrently (the control-plane client and the
   * peer client share it): each caller gets its own number, taken synchronously, so numbers never repeat.
   */
  async next(): Promise<number> {
    const seq = this.#next++;
    if (seq > this.#covered) {
      const upTo = seq + this.blockSize - 1;
      this.#covered = upTo;
      const reservation = this.#pending
        .catch(() => undefined)
        .then(() =>
          this.state.update((s) => {
            s.seqReserved = Math.max(s.seqReserved, upTo);
          }),
        );
      this.#pending = reservation;
      reservation.catch(() => {
        // Not saved: the next caller reserves again.
        this.#covered = Math.min(this.#covered, seq - 1);
      });
    }
    await this.#pending;
    return seq;
  }

  /** The control plane has accepted `seq` already (e.g. the state directory was lost): continue above it. */
  advancePast(seq: number): void {
    if (seq >= this.#next) this.#next = seq + 1;
  }

  /** The next number that would be used (for status and tests). */
  peek(): number {
    return this.#next;
  }
}

export type LockResult = { ok: true; release: () => Promise<void> } | { ok: false; pid: number };

/** One agent per state directory: two would reuse sequence numbers. A lock left by a dead process is taken over. */
export async function lockStateDir(dir: string): Promise<LockResult> {
  const file = path.join(dir, LOCK_FILE);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const handle = await fs.open(file, 'wx', 0o600);
      await handle.writeFile(`${process.pid}\n`);
      await handle.close();
      return {
        ok: true,
        release: async () => {
          await fs.rm(file, { force: true });
        },
      };
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const pid = Number((await fs.readFile(file, 'utf8').catch(() => '')).trim());
      if (Number.isSafeInteger(pid) && pid > 0 && pid !== process.pid && isAlive(pid))
        return { ok: false, pid };
      await fs.rm(file, { force: true });
    }
  }
  return { ok: false, pid: 0 };
}

export function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
