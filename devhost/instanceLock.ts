import { mkdirSync, openSync, readFileSync, rmSync, writeSync, closeSync } from 'node:fs';
import path from 'node:path';

/** A devhost could not start for a reason the user can act on (the CLI prints the message and exits non-zero). */
export class DevhostStartError extends Error {
  override readonly name = 'DevhostStartError';
}

export interface InstanceLock {
  file: string;
  /** Removes the lock file if it is still this process's. Idempotent and synchronous (usable on `exit`). */
  release(): void;
}

interface LockContent {
  pid: number;
  port?: number;
  startedAt?: string;
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    // EPERM: the process exists but belongs to someone else.
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}

function readLock(file: string): LockContent | undefined {
  try {
    const content = JSON.parse(readFileSync(file, 'utf8')) as Partial<LockContent>;
    return typeof content.pid === 'number' && Number.isInteger(content.pid)
      ? (content as LockContent)
      : undefined;
  } catch {
    return undefined;
  }
}

/**
 * Takes `<dataDir>/devhost.lock` for this process: a second devhost on the same data directory (and so the same
 * Azurite files and task hub) is refused. A lock whose pid no longer runs is stale and taken over.
 */
export function acquireInstanceLock(dataDir: string, port: number): InstanceLock {
  mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'devhost.lock');
  for (let attempt = 0; attempt < 3; attempt++) {
    let fd: number;
    try {
      fd = openSync(file, 'wx', 0o600);
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      const holder = readLock(file);
      if (holder && holder.pid !== process.pid && isAlive(holder.pid)) {
        throw new DevhostStartError(
          `another devhost (pid ${holder.pid}${holder.port ? `, port ${holder.port}` : ''}) is using the data ` +
            `directory ${dataDir}: stop it, or use --data-dir DIR (or --storage memory)`,
        );
      }
      rmSync(file, { force: true }); // stale (its process is gone) or unreadable
      continue;
    }
    const content: LockContent = { pid: process.pid, port, startedAt: new Date().toISOString() };
    writeSync(fd, JSON.stringify(content));
    closeSync(fd);
    let released = false;
    return {
      file,
      release() {
        if (released) return;
        released = true;
        if (readLock(file)?.pid === process.pid) rmSync(file, { force: true });
      },
    };
  }
  throw new DevhostStartError(`could not take the lock ${file}; another devhost may be starting`);
}
