// Jest global setup: tests that run the Functions app in the devhost load it from dist/, so build it first when any
// input changed since the last build (devhost/build/buildIfStale.cjs; milliseconds when nothing changed). Without
// this, an edited source file could be tested against its previous build.
const { spawnSync } = require('node:child_process');
const path = require('node:path');

module.exports = async function buildBeforeTests() {
  const root = path.resolve(__dirname, '..');
  const result = spawnSync(process.execPath, [path.join(root, 'devhost/build/buildIfStale.cjs'), root], {
    cwd: root,
    encoding: 'utf8',
  });
  if (result.status !== 0)
    throw new Error(`the build failed, so the tests would run stale code:\n${result.stdout}${result.stderr}`);
};
