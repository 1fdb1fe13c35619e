#!/usr/bin/env node
'use strict';
// Stages the Function App's deployment folder (azure.yaml's service `dist`), run by azd's prepackage hook after its
// build step (or by hand: npm run package:azure). The folder holds only what runs in Azure:
//   dist/{functions,orchestrations,shared,portal}  the compiled app and the operator portal (no source maps)
//   package.json, package-lock.json                without dev dependencies or scripts (remote build: npm install)
//   host.json                                      the Azure form for the backend (scripts/hostJsonFor.cjs)
//   .funcignore
// Never local.settings.json, .env files, or anything outside that list.
// Usage: node scripts/packageForAzure.cjs [--backend scheduler|storage] [--root <repo>] [--out <folder>]
//   backend default: $DURABLE_BACKEND (the azd environment's), else 'scheduler'.
const fs = require('node:fs');
const path = require('node:path');
const { hostJsonFor, BACKENDS } = require('./hostJsonFor.cjs');

/** The compiled folders the Functions app loads (package.json main: dist/functions/**; the portal's files). */
const RUNTIME_DIST_DIRS = Object.freeze(['functions', 'orchestrations', 'shared', 'portal']);
const FUNCIGNORE = ['*.map', '*.ts', '.funcignore', 'local.settings.json', '.env*', ''].join('\n');

class PackageError extends Error {
  name = 'PackageError';
}

function parseArgs(argv, env) {
  const options = {
    backend: env.DURABLE_BACKEND || 'scheduler',
    root: path.join(__dirname, '..'),
    out: undefined,
  };
  for (let i = 0; i < argv.length; i++) {
    const flag = argv[i];
    const value = argv[i + 1];
    if (!['--backend', '--root', '--out'].includes(flag)) throw new PackageError(`unknown argument ${flag}`);
    if (value === undefined) throw new PackageError(`${flag} needs a value`);
    options[flag.slice(2)] = value;
    i++;
  }
  options.root = path.resolve(options.root);
  options.out = path.resolve(options.root, options.out ?? '.azure-package');
  return options;
}

function readJson(file) {
  try {
    return JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch (error) {
    throw new PackageError(`cannot read ${file}: ${error.message}`);
  }
}

function copyTree(from, to) {
  fs.mkdirSync(to, { recursive: true });
  for (const entry of fs.readdirSync(from, { withFileTypes: true })) {
    const source = path.join(from, entry.name);
    const target = path.join(to, entry.name);
    if (entry.isDirectory()) copyTree(source, target);
    else if (entry.isFile() && !entry.name.endsWith('.map') && !entry.name.endsWith('.tsbuildinfo'))
      fs.copyFileSync(source, target);
  }
}

/** package.json for the deployment: the runtime dependencies only (remote build installs them). */
function deployPackageJson(pkg) {
  const { devDependencies: _dev, scripts: _scripts, bin: _bin, ...rest } = pkg;
  return { ...rest, scripts: {} };
}

/** package-lock.json without the dev-only packages, consistent with deployPackageJson. */
function deployPackageLock(lock) {
  const copy = structuredClone(lock);
  if (copy.packages) {
    for (const [key, entry] of Object.entries(copy.packages)) {
      if (key !== '' && entry && entry.dev === true) delete copy.packages[key];
    }
    if (copy.packages['']) {
      delete copy.packages[''].devDependencies;
      delete copy.packages[''].bin;
    }
  }
  return copy;
}

/** Stages the deployment folder; returns what it wrote (relative paths). */
function packageForAzure(options) {
  const { root, out, backend } = options;
  if (!BACKENDS.includes(backend)) {
    throw new PackageError(
      `DURABLE_BACKEND must be ${BACKENDS.join(' or ')} (got ${JSON.stringify(backend)})`,
    );
  }
  const rootFromOut = path.relative(out, root);
  if (rootFromOut === '' || (!rootFromOut.startsWith('..') && !path.isAbsolute(rootFromOut))) {
    throw new PackageError('the output folder must not be the project root or a folder containing it');
  }
  const dist = path.join(root, 'dist');
  for (const dir of RUNTIME_DIST_DIRS) {
    if (!fs.existsSync(path.join(dist, dir))) {
      throw new PackageError(`${path.join('dist', dir)} is missing: run npm run build first`);
    }
  }
  if (!fs.existsSync(path.join(dist, 'portal', 'index.html'))) {
    throw new PackageError('dist/portal/index.html is missing: run npm run build first');
  }
  const base = readJson(path.join(root, 'host.json'));
  const host = hostJsonFor(base, backend);
  const pkg = readJson(path.join(root, 'package.json'));
  const lock = readJson(path.join(root, 'package-lock.json'));

  fs.rmSync(out, { recursive: true, force: true });
  fs.mkdirSync(out, { recursive: true });
  for (const dir of RUNTIME_DIST_DIRS) copyTree(path.join(dist, dir), path.join(out, 'dist', dir));
  const write = (name, text) => fs.writeFileSync(path.join(out, name), text);
  write('host.json', `${JSON.stringify(host, null, 2)}\n`);
  write('package.json', `${JSON.stringify(deployPackageJson(pkg), null, 2)}\n`);
  write('package-lock.json', `${JSON.stringify(deployPackageLock(lock), null, 2)}\n`);
  write('.funcignore', FUNCIGNORE);
  return { out, backend, dirs: RUNTIME_DIST_DIRS.map((d) => `dist/${d}`) };
}

module.exports = {
  packageForAzure,
  parseArgs,
  deployPackageJson,
  deployPackageLock,
  PackageError,
  RUNTIME_DIST_DIRS,
};

if (require.main === module) {
  try {
    const result = packageForAzure(parseArgs(process.argv.slice(2), process.env));
    console.log(
      `Staged ${path.relative(process.cwd(), result.out) || '.'} for Azure (durable backend: ${result.backend})`,
    );
  } catch (error) {
    console.error(
      `package:azure: ${error instanceof PackageError || error instanceof RangeError ? error.message : error}`,
    );
    process.exit(1);
  }
}
