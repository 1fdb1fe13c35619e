import { execFile, spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { builtinModules } from 'node:module';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { paths } from '../../shared/contracts/routes';
import { startControlPlane, twoNodeCluster, type ControlPlane } from '../helpers/controlPlane';
import { request } from '../helpers/durableHttp';

/**
 * `failoverctl` installs alone: `npm run build:cli` makes one file with yaml and zod inside, which runs from an empty
 * directory with Node only and is the real CLI (it reads a cluster's status from a running control plane). Only
 * `--entra` needs a package beside it (`@azure/identity`, loaded on use).
 */
const root = path.resolve(__dirname, '../..');
let buildDir: string;
let emptyDir: string;
let bundle: string;
let buildOutput: string;
let cp: ControlPlane;

/** Runs the bundle from the empty directory with Node alone (async: the control plane answers from this process). */
const run = (args: string[], env: Record<string, string> = {}) =>
  new Promise<{ status: number | null; stdout: string; stderr: string }>((resolve) => {
    execFile(
      process.execPath,
      [bundle, ...args],
      {
        cwd: emptyDir,
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: emptyDir, ...env },
        timeout: 30_000,
      },
      (error, stdout, stderr) =>
        resolve({
          status: error ? ((error as { code?: unknown }).code as number | null) : 0,
          stdout,
          stderr,
        }),
    );
  });

beforeAll(async () => {
  buildDir = mkdtempSync(path.join(tmpdir(), 'fp-cli-build-'));
  const built = spawnSync(
    process.execPath,
    [
      path.join(root, 'scripts/buildAgentBundle.cjs'),
      '--tool',
      'failoverctl',
      '--outfile',
      path.join(buildDir, 'failoverctl.cjs'),
    ],
    { cwd: root, encoding: 'utf8' },
  );
  buildOutput = `${built.stdout}${built.stderr}`;
  if (built.status !== 0) throw new Error(`build:cli failed: ${buildOutput}`);
  emptyDir = mkdtempSync(path.join(tmpdir(), 'fp-cli-alone-'));
  bundle = path.join(emptyDir, 'failoverctl.cjs');
  copyFileSync(path.join(buildDir, 'failoverctl.cjs'), bundle);
  cp = await startControlPlane();
}, 90_000);

afterAll(async () => {
  await cp?.stop();
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(emptyDir, { recursive: true, force: true });
});

test('the bundle holds yaml and zod and needs nothing but Node built-ins (and @azure/identity for --entra only)', () => {
  expect(buildOutput).toMatch(/packages: (yaml, zod|zod, yaml)\b/);
  const text = readFileSync(bundle, 'utf8');
  expect(text.startsWith('#!/usr/bin/env node\n')).toBe(true);
  const required = new Set(
    [...text.matchAll(/\b(?:require|import)\(["']([^"']+)["']\)/g)].map((m) => m[1] as string),
  );
  const builtins = new Set(builtinModules);
  expect([...required].filter((id) => !builtins.has(id.replace(/^node:/, '')))).toEqual(['@azure/identity']);
});

test('from an empty directory with Node only it is the real CLI: help, a status block, one-line errors', async () => {
  const help = await run(['--help']);
  expect(help.status).toBe(0);
  expect(help.stdout).toContain('Usage: failoverctl <command>');
  const declared = await request(`${cp.host.url}${paths.cluster('alone')}`, {
    method: 'PUT',
    key: cp.adminKey,
    body: twoNodeCluster('alone'),
  });
  expect(declared.status).toBe(201);
  const status = await run(['status', 'alone'], {
    FAILOVERPLANE_URL: cp.host.url,
    FAILOVERPLANE_KEY: cp.functionKey,
  });
  expect(status.status).toBe(0);
  expect(status.stdout).toContain('alone');
  expect(status.stdout).toContain('head-a');
  const unreachable = await run(['status', 'alone', '--url', 'http://127.0.0.1:9', '--key', 'k']);
  expect(unreachable.status).toBe(5);
  expect(unreachable.stderr.trim().split('\n')).toHaveLength(1);
  const entra = await run([
    'status',
    'alone',
    '--url',
    cp.host.url,
    '--entra',
    '--scope',
    'api://x/.default',
  ]);
  expect(entra.status).toBe(4);
  expect(entra.stderr).toContain('@azure/identity');
}, 60_000);
