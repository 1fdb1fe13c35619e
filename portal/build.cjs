#!/usr/bin/env node
'use strict';
// Builds the operator portal into <outDir>/portal: its TypeScript (portal/app, DOM lib, ES modules) with
// portal/tsconfig.json, and its static files (portal/static) copied beside it. Called by devhost/build/buildIfStale.cjs
// after the app's own build, so `npm run build`, `npm start` and the tests all build it. No bundler, nothing fetched.
// Usage: node portal/build.cjs [projectRoot]
const fs = require('node:fs');
const path = require('node:path');
const { spawnSync } = require('node:child_process');

const root = path.resolve(process.argv[2] ?? path.join(__dirname, '..'));
const out = path.join(root, 'dist', 'portal');
fs.rmSync(out, { recursive: true, force: true });
const tsc = require.resolve('typescript/bin/tsc', { paths: [root, __dirname] });
const result = spawnSync(process.execPath, [tsc, '-p', path.join(root, 'portal', 'tsconfig.json')], {
  cwd: root,
  stdio: 'inherit',
});
if (result.status !== 0) process.exit(result.status ?? 1);
fs.cpSync(path.join(root, 'portal', 'static'), out, { recursive: true });
console.log(
  'build: portal compiled (tsc -p portal/tsconfig.json) and its static files copied to dist/portal',
);
