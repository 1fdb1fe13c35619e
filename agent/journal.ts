import { closeSync, fsyncSync, openSync, writeSync } from 'node:fs';

/**
 * One line of the agent's acting journal (opt-in, `FAILOVER_AGENT_JOURNAL=<file>`): when the agent starts acting as
 * the active (`start`), every loop iteration in which it still may (`tick`), and when it stops (`end`). `mono` is
 * `process.hrtime.bigint()` in nanoseconds, as a decimal string: CLOCK_MONOTONIC, which every process of one machine
 * shares, so the intervals of several agents can be compared. The chaos checker reads these files.
 */
export interface JournalRecord {
  t: 'start' | 'tick' | 'end';
  cluster: string;
  node: string;
  pid: number;
  epoch: number;
  mono: string;
  /** Why it stopped acting (`end` only). */
  reason?: string;
}

/** What the agent writes its acting intervals to. */
export interface ActingJournal {
  /** The agent may act as active now, under `epoch`: opens an interval (`start`, fsynced) or extends it (`tick`). */
  acting(epoch: number): void;
  /**
   * The agent no longer acts as active: closes the open interval, if any (`end`), dated `endedAgoMs` before now
   * (when it stopped acting earlier than it could write: its lease ran out while the process was paused).
   */
  stopped(reason: string, endedAgoMs?: number): void;
  close(): void;
}

/** The environment variable that turns the journal on (its value: the file to append to). */
export const JOURNAL_ENV = 'FAILOVER_AGENT_JOURNAL';

/** The journal: JSON lines appended (synchronously, so a SIGKILL loses no written record) to `file`. */
export class FileActingJournal implements ActingJournal {
  readonly #fd: number;
  readonly #base: { cluster: string; node: string; pid: number };
  readonly #now: () => bigint;
  #open: number | null = null;
  #last = 0n;

  constructor(
    file: string,
    who: { cluster: string; node: string },
    now: () => bigint = () => process.hrtime.bigint(),
  ) {
    this.#fd = openSync(file, 'a');
    this.#base = { cluster: who.cluster, node: who.node, pid: process.pid };
    this.#now = now;
  }

  acting(epoch: number): void {
    if (this.#open !== null && this.#open !== epoch) this.stopped(`carried to epoch ${epoch}`);
    if (this.#open === null) {
      this.#write({ t: 'start', epoch });
      fsyncSync(this.#fd);
      this.#open = epoch;
      return;
    }
    this.#write({ t: 'tick', epoch });
  }

  stopped(reason: string, endedAgoMs = 0): void {
    if (this.#open === null) return;
    const now = this.#now();
    const at = now - BigInt(Math.max(0, Math.round(endedAgoMs * 1e6)));
    // Never before the interval's last record: the agent acted then.
    this.#write({ t: 'end', epoch: this.#open, reason }, at > this.#last ? at : this.#last);
    this.#open = null;
  }

  close(): void {
    closeSync(this.#fd);
  }

  #write(record: Pick<JournalRecord, 't' | 'epoch' | 'reason'>, at: bigint = this.#now()): void {
    this.#last = at;
    const line: JournalRecord = { ...record, ...this.#base, mono: at.toString() };
    writeSync(this.#fd, `${JSON.stringify(line)}\n`);
  }
}

/** The journal named by the environment, or none (the default: nothing is written, nothing costs). */
export function journalFromEnv(
  env: NodeJS.ProcessEnv,
  who: { cluster: string; node: string },
): ActingJournal | undefined {
  const file = env[JOURNAL_ENV];
  return file ? new FileActingJournal(file, who) : undefined;
}
