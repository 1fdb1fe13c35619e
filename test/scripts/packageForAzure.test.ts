import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
const SCRIPT = path.join(REPO_ROOT, 'scripts', 'packageForAzure.cjs');

interface HostJson {
  version: string;
  telemetryMode?: string;
  extensions: {
    http?: unknown;
    durableTask: Record<string, unknown> & { storageProvider?: Record<string, unknown> };
  };
}
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { hostJsonFor, STORAGE_MAX_QUEUE_POLLING_INTERVAL } = require('../../scripts/hostJsonFor.cjs') as {
  hostJsonFor: (base: unknown, backend: string) => HostJson;
  STORAGE_MAX_QUEUE_POLLING_INTERVAL: string;
};
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { packageForAzure, PackageError } = require('../../scripts/packageForAzure.cjs') as {
  packageForAzure: (options: { root: string; out: string; backend: string }) => { out: string };
  PackageError: new (message: string) => Error;
};

const localHostJson = () =>
  JSON.parse(fs.readFileSync(path.join(REPO_ROOT, 'host.json'), 'utf8')) as HostJson;

function files(dir: string, base = dir): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const full = path.join(dir, e.name);
    return e.isDirectory() ? files(full, base) : [path.relative(base, full).split(path.sep).join('/')];
  });
}

const temps: string[] = [];
const tempDir = (prefix: string) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), prefix));
  temps.push(dir);
  return dir;
};
afterAll(() => {
  for (const dir of temps) fs.rmSync(dir, { recursive: true, force: true });
});

describe('hostJsonFor', () => {
  it('keeps the repository host.json in its local form (Azure Storage on Azurite)', () => {
    const local = localHostJson();
    expect(local.extensions.durableTask.storageProvider?.type).toBeUndefined();
    expect(local.extensions.durableTask.hubName).not.toMatch(/%/);
  });

  it('scheduler: the azureManaged provider, the task hub from TASKHUB_NAME and OpenTelemetry', () => {
    const base = localHostJson();
    const before = JSON.stringify(base);
    const host = hostJsonFor(base, 'scheduler');
    expect(host.extensions.durableTask).toEqual({
      ...base.extensions.durableTask,
      hubName: '%TASKHUB_NAME%',
      storageProvider: {
        type: 'azureManaged',
        connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING',
      },
    });
    expect(host.telemetryMode).toBe('OpenTelemetry');
    expect(host.extensions.http).toEqual(base.extensions.http);
    expect(JSON.stringify(base)).toBe(before); // pure
  });

  it('storage: the local form with queue polling at most 10 s apart and OpenTelemetry', () => {
    const base = localHostJson();
    const host = hostJsonFor(base, 'storage');
    expect(host.extensions.durableTask.hubName).toBe(base.extensions.durableTask.hubName);
    expect(host.extensions.durableTask.storageProvider).toEqual({ maxQueuePollingInterval: '00:00:10' });
    const [h = NaN, m = NaN, s = NaN] = STORAGE_MAX_QUEUE_POLLING_INTERVAL.split(':').map(Number);
    expect(h * 3600 + m * 60 + s).toBeLessThanOrEqual(10);
    expect(host.telemetryMode).toBe('OpenTelemetry');
  });

  it('rejects an unknown backend or a base that is not a host.json', () => {
    expect(() => hostJsonFor(localHostJson(), 'cosmos')).toThrow(/unknown durable backend "cosmos"/);
    expect(() => hostJsonFor({ version: '1.0' }, 'storage')).toThrow(/version "2.0"/);
  });
});

/** A project root in a temp dir: a built dist, the manifests, and local files with secrets that must not ship. */
function fakeProject(): string {
  const root = tempDir('fp-pkg-root-');
  const write = (rel: string, text: string) => {
    fs.mkdirSync(path.dirname(path.join(root, rel)), { recursive: true });
    fs.writeFileSync(path.join(root, rel), text);
  };
  fs.copyFileSync(path.join(REPO_ROOT, 'host.json'), path.join(root, 'host.json'));
  write(
    'package.json',
    JSON.stringify({
      name: 'x',
      main: 'dist/functions/**/*.js',
      scripts: { prepare: 'npm run build' },
      bin: { x: 'bin/x.js' },
      dependencies: { a: '1.0.0' },
      devDependencies: { d: '1.0.0' },
    }),
  );
  write(
    'package-lock.json',
    JSON.stringify({
      name: 'x',
      lockfileVersion: 3,
      packages: {
        '': { name: 'x', dependencies: { a: '1.0.0' }, devDependencies: { d: '1.0.0' } },
        'node_modules/a': { version: '1.0.0' },
        'node_modules/d': { version: '1.0.0', dev: true },
      },
    }),
  );
  write('dist/functions/http/f.js', "require('../../shared/s.js');\n");
  write('dist/functions/http/f.js.map', '{}');
  write('dist/shared/s.js', '');
  write('dist/orchestrations/o.js', '');
  write('dist/portal/index.html', '<!doctype html>');
  write('dist/devhost/host.js', '');
  write('dist/.tsbuildinfo', '{}');
  write('local.settings.json', '{"Values":{"NODE_KEY_MASTER":"SECRET-MASTER"}}');
  write('.env', 'NODE_KEY_MASTER=SECRET-MASTER');
  return root;
}

describe('packageForAzure', () => {
  it.each(['scheduler', 'storage'])(
    'stages exactly the deployment (%s backend), nothing local',
    (backend) => {
      const root = fakeProject();
      const out = path.join(root, '.azure-package');
      packageForAzure({ root, out, backend });
      expect(files(out).sort()).toEqual(
        [
          '.funcignore',
          'dist/functions/http/f.js',
          'dist/orchestrations/o.js',
          'dist/portal/index.html',
          'dist/shared/s.js',
          'host.json',
          'package-lock.json',
          'package.json',
        ].sort(),
      );
      const host = JSON.parse(fs.readFileSync(path.join(out, 'host.json'), 'utf8')) as unknown;
      expect(host).toEqual(hostJsonFor(localHostJson(), backend));
      const pkg = JSON.parse(fs.readFileSync(path.join(out, 'package.json'), 'utf8')) as Record<
        string,
        unknown
      >;
      expect(pkg).toEqual({
        name: 'x',
        main: 'dist/functions/**/*.js',
        dependencies: { a: '1.0.0' },
        scripts: {},
      });
      const lock = JSON.parse(fs.readFileSync(path.join(out, 'package-lock.json'), 'utf8')) as {
        packages: Record<string, unknown>;
      };
      expect(lock.packages).toEqual({
        '': { name: 'x', dependencies: { a: '1.0.0' } },
        'node_modules/a': { version: '1.0.0' },
      });
      for (const file of files(out))
        expect(fs.readFileSync(path.join(out, file), 'utf8')).not.toContain('SECRET-MASTER');
    },
  );

  it('replaces a previous staging folder and refuses to stage over the project', () => {
    const root = fakeProject();
    const out = path.join(root, '.azure-package');
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, 'stale.js'), '');
    packageForAzure({ root, out, backend: 'scheduler' });
    expect(fs.existsSync(path.join(out, 'stale.js'))).toBe(false);
    expect(() => packageForAzure({ root, out: root, backend: 'scheduler' })).toThrow(PackageError);
    expect(() => packageForAzure({ root, out: path.dirname(root), backend: 'scheduler' })).toThrow(
      PackageError,
    );
    expect(fs.existsSync(path.join(root, 'host.json'))).toBe(true);
  });

  it('fails clearly without a build or with an unknown backend', () => {
    const root = fakeProject();
    fs.rmSync(path.join(root, 'dist', 'portal'), { recursive: true });
    expect(() => packageForAzure({ root, out: path.join(root, 'o'), backend: 'storage' })).toThrow(
      'dist/portal is missing: run npm run build first',
    );
    expect(() => packageForAzure({ root, out: path.join(root, 'o'), backend: 'nope' })).toThrow(
      /DURABLE_BACKEND must be scheduler or storage/,
    );
  });

  it('stages the real build: the app and the portal, whose relative requires all resolve inside the folder', () => {
    const out = path.join(tempDir('fp-pkg-real-'), 'stage');
    const run = spawnSync(process.execPath, [SCRIPT, '--out', out], {
      cwd: REPO_ROOT,
      env: { ...process.env, DURABLE_BACKEND: 'storage' },
      encoding: 'utf8',
    });
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('durable backend: storage');
    const staged = files(out);
    expect(staged).toContain('dist/portal/index.html');
    expect(staged).toContain('dist/functions/http/portal.js');
    expect(
      staged.filter((f) => /local\.settings|\.env|\.map$|^dist\/(devhost|sim|bench|agent|cli)\//.test(f)),
    ).toEqual([]);
    const host = JSON.parse(fs.readFileSync(path.join(out, 'host.json'), 'utf8')) as HostJson;
    expect(host.extensions.durableTask.storageProvider).toEqual({ maxQueuePollingInterval: '00:00:10' });
    const missing: string[] = [];
    let checked = 0;
    for (const file of staged.filter((f) => f.endsWith('.js'))) {
      const source = fs.readFileSync(path.join(out, file), 'utf8');
      for (const m of source.matchAll(/require\("(\.{1,2}\/[^"]+)"\)/g)) {
        checked++;
        const target = path.resolve(path.dirname(path.join(out, file)), m[1]!);
        if (![target, `${target}.js`, path.join(target, 'index.js')].some((t) => fs.existsSync(t)))
          missing.push(`${file} → ${m[1]}`);
      }
    }
    expect(checked).toBeGreaterThan(50);
    expect(missing).toEqual([]);
    const pkg = JSON.parse(fs.readFileSync(path.join(out, 'package.json'), 'utf8')) as Record<
      string,
      unknown
    >;
    const lock = JSON.parse(fs.readFileSync(path.join(out, 'package-lock.json'), 'utf8')) as {
      packages: Record<string, { dev?: boolean }>;
    };
    expect(pkg.devDependencies).toBeUndefined();
    for (const dep of Object.keys(pkg.dependencies as Record<string, string>))
      expect(`${dep}: ${`node_modules/${dep}` in lock.packages}`).toBe(`${dep}: true`);
    expect(Object.values(lock.packages).filter((p) => p.dev === true)).toEqual([]);
  });

  it('exits 1 with a message naming the problem on bad input', () => {
    const run = spawnSync(
      process.execPath,
      [SCRIPT, '--backend', 'cosmos', '--out', path.join(tempDir('fp-pkg-bad-'), 'o')],
      {
        cwd: REPO_ROOT,
        encoding: 'utf8',
      },
    );
    expect(run.status).toBe(1);
    expect(run.stderr).toContain('DURABLE_BACKEND must be scheduler or storage (got "cosmos")');
  });
});
