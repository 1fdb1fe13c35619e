// Jest global setup: tests that run the Functions app in the devhost load it from dist/, so build it first when any
// source file is newer than the last build. Without this, an edited source file could be tested against its previous
// build. (tsc's own incremental mode still spends ~4 s building the program when nothing changed; this check takes
// milliseconds.)
const { execFileSync } = require('node:child_process');
const { existsSync, readdirSync, statSync, utimesSync } = require('node:fs');
const path = require('node:path');

const root = path.resolve(__dirname, '..');
const sources = ['functions', 'orchestrations', 'shared', 'agent', 'portal', 'devhost', 'bench', 'sim'];
const stamp = path.join(root, 'dist', '.tsbuildinfo');

function newestSource(dir) {
  let newest = 0;
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) newest = Math.max(newest, newestSource(full));
    else if (/\.(ts|cjs|js|json)$/.test(entry.name)) newest = Math.max(newest, statSync(full).mtimeMs);
  }
  return newest;
}

module.exports = async function buildBeforeTests() {
  const configs = ['tsconfig.json', 'tsconfig.build.json', 'package.json'].map((f) => path.join(root, f));
  const newest = Math.max(
    ...sources.filter((d) => existsSync(path.join(root, d))).map((d) => newestSource(path.join(root, d))),
    ...configs.map((f) => statSync(f).mtimeMs),
  );
  if (existsSync(stamp) && statSync(stamp).mtimeMs >= newest) return;
  try {
    execFileSync(process.execPath, [require.resolve('typescript/bin/tsc'), '-p', 'tsconfig.build.json'], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
  } catch (error) {
    throw new Error(
      `the build failed, so the tests would run stale code:\n${error.stdout ?? ''}${error.stderr ?? ''}`,
    );
  }
  const now = new Date();
  if (existsSync(stamp)) utimesSync(stamp, now, now);
};
