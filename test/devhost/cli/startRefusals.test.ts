import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';

const root = path.join(__dirname, '..', '..', '..');
const appDir = path.join(root, 'test', 'fixtures', 'apps', 'http-app');

interface Run {
  child: ChildProcess;
  output(): string;
  exitCode(): number | null | undefined;
}

/** The CLI in a child process, TypeScript compiled on the fly (no build needed). */
function runCli(args: string[]): Run {
  const child = spawn(
    process.execPath,
    ['-r', 'sucrase/register/ts', '-e', "require('./devhost/cli').main(process.argv.slice(1))", ...args],
    { cwd: root, env: { ...process.env, WEBSITE_HOSTNAME: '' }, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let output = '';
  let code: number | null | undefined;
  child.stdout?.on('data', (d: Buffer) => (output += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (output += d.toString()));
  child.on('exit', (c) => (code = c));
  return { child, output: () => output, exitCode: () => code };
}

async function until(condition: () => boolean, deadlineMs: number, what: string): Promise<void> {
  const end = Date.now() + deadlineMs;
  while (!condition()) {
    if (Date.now() > end) throw new Error(`timed out after ${deadlineMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

function holdPort(): Promise<{ server: Server; port: number }> {
  return new Promise((resolve) => {
    const server = createServer();
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      resolve({ server, port: typeof address === 'object' && address ? address.port : 0 });
    });
  });
}

describe('devhost start refuses to run twice', () => {
  let dataDir: string;
  const children: ChildProcess[] = [];

  beforeEach(() => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'devhost-cli-'));
  });

  afterEach(() => {
    for (const child of children.splice(0)) if (child.exitCode === null) child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('exits non-zero with a hint when the port is taken, before starting Azurite on the data directory', async () => {
    const { server, port } = await holdPort();
    try {
      const run = runCli([
        'start',
        '--app',
        appDir,
        '--port',
        String(port),
        '--data-dir',
        dataDir,
        '--cloud',
        'none',
      ]);
      children.push(run.child);
      await until(() => run.exitCode() !== undefined, 30_000, 'the devhost to exit');
      expect(run.exitCode()).not.toBe(0);
      expect(run.output()).toContain(`port ${port} is in use: another devhost is running? use --port N`);
      expect(existsSync(path.join(dataDir, 'azurite'))).toBe(false);
      expect(existsSync(path.join(dataDir, 'devhost.lock'))).toBe(false); // released
    } finally {
      server.close();
    }
  });

  it('exits non-zero when a live process holds the data directory lock', async () => {
    writeFileSync(path.join(dataDir, 'devhost.lock'), JSON.stringify({ pid: process.pid, port: 1 }));
    const run = runCli(['start', '--app', appDir, '--port', '0', '--data-dir', dataDir, '--cloud', 'none']);
    children.push(run.child);
    await until(() => run.exitCode() !== undefined, 30_000, 'the devhost to exit');
    expect(run.exitCode()).not.toBe(0);
    expect(run.output()).toContain(`another devhost (pid ${process.pid}`);
    expect(existsSync(path.join(dataDir, 'azurite'))).toBe(false);
    // The other holder's lock is left alone.
    expect(JSON.parse(readFileSync(path.join(dataDir, 'devhost.lock'), 'utf8'))).toEqual({
      pid: process.pid,
      port: 1,
    });
  });

  it('takes over a stale lock (its pid is gone), holds it while running and releases it on exit', async () => {
    const dead = spawn(process.execPath, ['-e', '']);
    const deadPid = dead.pid as number;
    await new Promise((resolve) => dead.on('exit', resolve));
    const lockFile = path.join(dataDir, 'devhost.lock');
    writeFileSync(lockFile, JSON.stringify({ pid: deadPid }));
    const run = runCli(['start', '--app', appDir, '--port', '0', '--data-dir', dataDir, '--cloud', 'none']);
    children.push(run.child);
    await until(() => run.output().includes('Host started') || run.exitCode() !== undefined, 60_000, 'start');
    expect(run.output()).toContain('Host started');
    expect((JSON.parse(readFileSync(lockFile, 'utf8')) as { pid: number }).pid).toBe(run.child.pid);
    run.child.kill('SIGTERM');
    await until(() => run.exitCode() !== undefined, 30_000, 'the devhost to stop');
    expect(run.exitCode()).toBe(0);
    expect(existsSync(lockFile)).toBe(false);
  });
});
