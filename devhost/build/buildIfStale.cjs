#!/usr/bin/env node
'use strict';
// `npm start`'s build step: runs `tsc -p tsconfig.build.json` only when an input changed since the last successful
// build. tsc's own incremental mode (dist/.tsbuildinfo) already skips emitting when nothing changed, but it still
// parses and binds every file the program sees (~2,900 with the SDKs' .d.ts) before knowing that: seconds per start.
// Inputs: every file and directory under tsconfig.build.json's `include` (a directory's mtime moves when a file in it
// is added, removed or renamed), the root tsconfig*.json, package.json and the lockfiles. The stamp's mtime is the
// time the last successful build *started*, so an edit made while tsc ran is seen by the next start.
// Usage: node devhost/build/buildIfStale.cjs [projectRoot]   (FORCE_BUILD=1 always builds)
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..', '..'));
const config = JSON.parse(fs.readFileSync(path.join(root, 'tsconfig.build.json'), 'utf8'));
const outDir = path.resolve(root, (config.compilerOptions && config.compilerOptions.outDir) || 'dist');
const stamp = path.join(outDir, '.build-stamp');

function newestMtime(entry, skip) {
  let stat;
  try {
    stat = fs.statSync(entry);
  } catch {
    return 0;
  }
  let newest = stat.mtimeMs;
  if (stat.isDirectory()) {
    for (const name of fs.readdirSync(entry)) {
      const child = path.join(entry, name);
      if (skip.has(child) || name === 'node_modules') continue;
      newest = Math.max(newest, newestMtime(child, skip));
    }
  }
  return newest;
}

function newestInput() {
  const skip = new Set([outDir]);
  const include = Array.isArray(config.include) ? config.include : ['.'];
  let newest = 0;
  for (const entry of include) newest = Math.max(newest, newestMtime(path.join(root, entry), skip));
  const topLevel = fs
    .readdirSync(root)
    .filter((n) => /^tsconfig.*\.json$/.test(n))
    .concat(['package.json', 'package-lock.json', path.join('node_modules', '.package-lock.json')]);
  for (const name of topLevel) newest = Math.max(newest, newestMtime(path.join(root, name), skip));
  return newest;
}

const stampMtime = (() => {
  try {
    return fs.statSync(stamp).mtimeMs;
  } catch {
    return -1;
  }
})();

if (!process.env.FORCE_BUILD && stampMtime >= 0 && newestInput() <= stampMtime) {
  console.log('build: up to date, tsc skipped');
  process.exit(0);
}

const started = new Date();
const tsc = require.resolve('typescript/bin/tsc', { paths: [root, __dirname] });
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'tsconfig.build.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) {
  fs.rmSync(stamp, { force: true });
  process.exit(result.status ?? 1);
}
// The operator portal (browser code, its own tsconfig) into <outDir>/portal.
const portalBuild = path.join(root, 'portal', 'build.cjs');
if (fs.existsSync(portalBuild)) {
  const portal = spawnSync(process.execPath, [portalBuild, root], { cwd: root, stdio: 'inherit' });
  if (portal.status !== 0) {
    fs.rmSync(stamp, { force: true });
    process.exit(portal.status ?? 1);
  }
}
fs.mkdirSync(outDir, { recursive: true });
fs.writeFileSync(stamp, `${started.toISOString()}\n`);
fs.utimesSync(stamp, started, started);
console.log('build: compiled (tsc -p tsconfig.build.json)');
