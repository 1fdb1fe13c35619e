import { readFileSync } from 'node:fs';
import { promises as fs } from 'node:fs';
import path from 'node:path';
import { z } from 'zod';
import { withPromise, livePromises, type PeerPromise } from '../../shared/domain/peerPromises';
import type { Clock } from '../clock';
import { writeFileAtomic } from '../state';

/** The promises this node gave, in its state directory (written like state.json: temp file, fsync, rename). */
export const PROMISES_FILE = 'promises.json';

/** Where the kernel says which boot this is: CLOCK_MONOTONIC restarts at each boot. */
export const BOOT_ID_FILE = '/proc/sys/kernel/random/boot_id';

/** One promise as stored: its end on the system-wide monotonic clock (CLOCK_MONOTONIC, ms) of boot `bootId`. */
interface StoredPromise {
  to: string;
  epoch: number;
  /** CLOCK_MONOTONIC ms (`process.hrtime.bigint()`), valid only on the boot the file names. */
  endsAtMonoMs: number;
  /** The promise's full length (duration + margin): how long it binds after a restart on another boot. */
  fullMs: number;
}

interface PromisesFile {
  version: 1;
  clusterId: string;
  nodeId: string;
  /** The boot the monotonic ends belong to; null when it could not be read (ends then count as unknown). */
  bootId: string | null;
  /** The highest epoch the control plane said was revoked: no promise under it or below. */
  closedEpoch: number;
  promises: StoredPromise[];
}

const fileSchema: z.ZodType<PromisesFile> = z.object({
  version: z.literal(1),
  clusterId: z.string(),
  nodeId: z.string(),
  bootId: z.string().nullable(),
  closedEpoch: z.number().int().min(0),
  promises: z.array(
    z.object({
      to: z.string(),
      epoch: z.number().int().min(0),
      endsAtMonoMs: z.number(),
      fullMs: z.number().min(0),
    }),
  ),
});

/** CLOCK_MONOTONIC in ms, shared by every process of the machine (unlike `performance.now()`). */
export const systemMonotonicMs = (): number => Number(process.hrtime.bigint() / 1000n) / 1000;

/** This boot's id, or null when it cannot be read (then a restart counts as another boot: conservative). */
export function readBootId(file = BOOT_ID_FILE): string | null {
  try {
    const id = readFileSync(file, 'utf8').trim();
    return id || null;
  } catch {
    return null;
  }
}

export interface PromiseStoreOptions {
  /** The state directory. */
  dir: string;
  clusterId: string;
  nodeId: string;
  /** The agent's clock: promises are timed on its `now()` in memory. */
  clock: Clock;
  /** CLOCK_MONOTONIC ms (default `process.hrtime.bigint()`). */
  monotonicMs?: () => number;
  /** This boot's id (default: /proc/sys/kernel/random/boot_id). */
  bootId?: () => string | null;
  /** Durable write (default: temp file, fsync, rename, fsync of the directory). */
  write?: (file: string, content: string) => Promise<void>;
}

/**
 * The promises this node gave (shared/domain/peerPromises.ts), in memory on the agent's clock and on disk as
 * CLOCK_MONOTONIC ends with the boot id. After a restart on the same boot a promise binds for exactly what was left
 * of it; after a reboot (or with no readable boot id) every stored promise binds for its full length from the load:
 * the node cannot know how long it was down, so it assumes it was not.
 *
 * `record` and `closeEpoch` change the memory at once (a promotion decided meanwhile sees them); `persist` writes
 * the memory as it is when the write starts, one write at a time, and resolves once it is on disk.
 */
export class PromiseStore {
  readonly #o: PromiseStoreOptions;
  readonly #file: string;
  readonly #bootId: string | null;
  /** CLOCK_MONOTONIC ms minus the agent clock's ms: both are monotonic, so the difference holds in a process. */
  readonly #offset: number;
  #promises: PeerPromise[] = [];
  #fullMs = new Map<string, number>();
  #closedEpoch = 0;
  #chain: Promise<void> = Promise.resolve();

  private constructor(options: PromiseStoreOptions) {
    this.#o = options;
    this.#file = path.join(options.dir, PROMISES_FILE);
    this.#bootId = (options.bootId ?? readBootId)();
    this.#offset = (options.monotonicMs ?? systemMonotonicMs)() - options.clock.now();
  }

  /** Opens the store and loads what a previous run promised (see the class comment for the timing). */
  static async open(options: PromiseStoreOptions): Promise<PromiseStore> {
    const store = new PromiseStore(options);
    await store.#load();
    return store;
  }

  get file(): string {
    return this.#file;
  }

  /** The promises given, live or not (the rules look at the live ones), on the agent clock. */
  get promises(): readonly PeerPromise[] {
    return this.#promises;
  }

  get closedEpoch(): number {
    return this.#closedEpoch;
  }

  /** Records a granted promise in memory (call `persist` before answering). `fullMs`: its length from now. */
  record(promise: PeerPromise, fullMs: number): void {
    const now = this.#o.clock.now();
    this.#promises = withPromise(this.#promises, promise, now);
    const key = keyOf(promise);
    this.#fullMs.set(key, Math.max(fullMs, this.#fullMs.get(key) ?? 0));
  }

  /** Raises the closed epoch in memory; true when it changed (then `persist`). */
  closeEpoch(epoch: number): boolean {
    if (epoch <= this.#closedEpoch) return false;
    this.#closedEpoch = epoch;
    return true;
  }

  /**
   * Releases the promises under `epoch` or an older one (the control plane confirmed that epoch's active fenced:
   * nobody acts under it any more); true when any was held (then `persist`).
   */
  release(epoch: number): boolean {
    const kept = this.#promises.filter((p) => p.epoch > epoch);
    if (kept.length === this.#promises.length) return false;
    this.#promises = kept;
    return true;
  }

  /** Writes the promises (the live ones) and the closed epoch durably; resolves once they are on disk. */
  persist(): Promise<void> {
    const next = this.#chain.catch(() => undefined).then(() => this.#write());
    this.#chain = next;
    return next;
  }

  async #write(): Promise<void> {
    const now = this.#o.clock.now();
    const live = livePromises(this.#promises, now);
    const content: PromisesFile = {
      version: 1,
      clusterId: this.#o.clusterId,
      nodeId: this.#o.nodeId,
      bootId: this.#bootId,
      closedEpoch: this.#closedEpoch,
      promises: live.map((p) => ({
        to: p.to,
        epoch: p.epoch,
        endsAtMonoMs: p.until + this.#offset,
        fullMs: Math.max(this.#fullMs.get(keyOf(p)) ?? 0, p.until - now),
      })),
    };
    const text = JSON.stringify(content, null, 2) + '\n';
    await (this.#o.write ?? ((file, body) => writeFileAtomic(file, body, true)))(this.#file, text);
  }

  async #load(): Promise<void> {
    let text: string;
    try {
      text = await fs.readFile(this.#file, 'utf8');
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return;
      throw error;
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch {
      throw new Error(
        `${this.#file} is not valid JSON: remove it only once every promise in it has certainly ended`,
      );
    }
    const parsed = fileSchema.safeParse(json);
    if (!parsed.success)
      throw new Error(`${this.#file} is not a valid promises file: ${parsed.error.issues[0]?.message ?? ''}`);
    const data = parsed.data;
    if (data.clusterId !== this.#o.clusterId || data.nodeId !== this.#o.nodeId)
      throw new Error(
        `${this.#file} belongs to ${data.clusterId}/${data.nodeId}, not ${this.#o.clusterId}/${this.#o.nodeId}`,
      );
    this.#closedEpoch = data.closedEpoch;
    const now = this.#o.clock.now();
    const sameBoot = data.bootId !== null && this.#bootId !== null && data.bootId === this.#bootId;
    const promises: PeerPromise[] = [];
    for (const p of data.promises) {
      // Same boot: the exact end. Another (or an unknown) boot: the whole promise again, from now.
      const until = sameBoot ? p.endsAtMonoMs - this.#offset : now + p.fullMs;
      if (until <= now) continue;
      promises.push({ to: p.to, epoch: p.epoch, until });
      this.#fullMs.set(keyOf(p), p.fullMs);
    }
    this.#promises = promises;
  }
}

const keyOf = (p: { to: string; epoch: number }) => `${p.to}\u0000${p.epoch}`;
