import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { startAzurite, type RunningAzurite } from '../../../devhost';
import { request, waitForInstance } from '../../helpers/durableHttp';

const root = path.resolve(__dirname, '../../..');
const appDir = path.join(root, 'test/fixtures/apps/durable');
const cli = path.join(root, 'bin/devhost.js');

interface Child {
  process: ChildProcess;
  url: string;
  keys: { functionKeys: { default: string } };
}

/** Starts the devhost CLI as a real child process and waits for its ready line. */
function spawnDevhost(connectionString: string, dataDir: string): Promise<Child> {
  const child = spawn(
    process.execPath,
    [
      cli,
      'start',
      '--app',
      appDir,
      '--port',
      '0',
      '--storage',
      connectionString,
      '--data-dir',
      dataDir,
      '--json',
    ],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let stderr = '';
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`devhost did not start within 30 s: ${stderr}`)), 30_000);
    child.once('exit', (code) => reject(new Error(`devhost exited with ${code}: ${stderr}`)));
    createInterface({ input: child.stdout }).on('line', (line) => {
      if (line.startsWith('{')) {
        clearTimeout(timer);
        const ready = JSON.parse(line);
        resolve({ process: child, url: ready.url, keys: ready.keys });
      }
    });
  });
}

async function waitForFile(file: string, contains: string, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(existsSync(file) && readFileSync(file, 'utf8').includes(contains))) {
    if (Date.now() > deadline) throw new Error(`${file} never contained "${contains}"`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

let azurite: RunningAzurite;
beforeAll(async () => {
  if (!existsSync(path.join(root, 'dist/devhost/cli.js'))) throw new Error('build first: npm run build');
  azurite = await startAzurite({ inMemory: true });
});
afterAll(async () => {
  await azurite.stop();
});

it('resumes an orchestration after the host is killed, applying each side effect once and not re-running completed activities', async () => {
  const work = mkdtempSync(path.join(os.tmpdir(), 'crash-'));
  const dataDir = path.join(work, 'devhost');
  const first = await spawnDevhost(azurite.connectionString, dataDir);
  let second: Child | undefined;
  try {
    const started = await request(`${first.url}/api/orchestrators/Durable5/crash-1`, {
      method: 'POST',
      key: first.keys.functionKeys.default,
      body: { dir: work },
    });
    expect(started.status).toBe(202);
    // Step 3 blocks until "release" exists: kill the host while it runs.
    await waitForFile(path.join(work, 'invocations.log'), 'crash-1:3');
    const firstPid = first.process.pid;
    first.process.kill('SIGKILL');
    await new Promise((r) => first.process.once('exit', r));
    writeFileSync(path.join(work, 'release'), '');

    second = await spawnDevhost(azurite.connectionString, dataDir);
    const status = await waitForInstance(
      `${second.url}/api/client/status/crash-1?code=${second.keys.functionKeys.default}`,
      60_000,
    );
    expect(status).toMatchObject({
      runtimeStatus: 'Completed',
      output: ['effect:1', 'effect:2', 'effect:3', 'effect:4', 'effect:5'],
    });

    const effects = readFileSync(path.join(work, 'effects.log'), 'utf8').trim().split('\n');
    expect(effects).toEqual(['crash-1:1', 'crash-1:2', 'crash-1:3', 'crash-1:4', 'crash-1:5']);
    const invocations = readFileSync(path.join(work, 'invocations.log'), 'utf8')
      .trim()
      .split('\n')
      .map((l) => l.split(' '));
    const byKey = (key: string) => invocations.filter(([, k]) => k === key).map(([pid]) => Number(pid));
    // Completed before the crash: ran once, in the first process, never again.
    expect(byKey('crash-1:1')).toEqual([firstPid]);
    expect(byKey('crash-1:2')).toEqual([firstPid]);
    // Interrupted: re-delivered to the second process (at least once), effect applied once (checked above).
    expect(byKey('crash-1:3')).toEqual([firstPid, second.process.pid]);
    expect(byKey('crash-1:4')).toEqual([second.process.pid]);
    expect(byKey('crash-1:5')).toEqual([second.process.pid]);
  } finally {
    first.process.kill('SIGKILL');
    second?.process.kill('SIGTERM');
    if (second) await new Promise((r) => second!.process.once('exit', r));
  }
}, 120_000);
