import fs from 'node:fs';
import path from 'node:path';
import { readBicep, type BicepFile, type ModuleDecl } from './bicepReader';

export const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const INFRA_DIR = path.join(REPO_ROOT, 'infra');

function bicepPaths(dir: string): string[] {
  return fs.readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) return bicepPaths(full);
    return entry.name.endsWith('.bicep') ? [full] : [];
  });
}

/** Every .bicep file under infra/, read structurally, by path relative to infra/ (posix separators). */
export function readInfra(): Map<string, BicepFile> {
  const files = new Map<string, BicepFile>();
  for (const full of bicepPaths(INFRA_DIR)) {
    const relative = path.relative(INFRA_DIR, full).split(path.sep).join('/');
    files.set(relative, readBicep(fs.readFileSync(full, 'utf8'), `infra/${relative}`));
  }
  return files;
}

/** The infra/-relative path of a local module's file, or undefined for registry modules (br:, ts:). */
export function moduleTarget(from: string, module: ModuleDecl): string | undefined {
  if (/^(br|ts)[:/]/.test(module.path)) return undefined;
  return path.posix.normalize(path.posix.join(path.posix.dirname(from), module.path));
}

/** The JSON role table (role name → role definition GUID), the one place role GUIDs are written. */
export function roleDefinitions(): Record<string, string> {
  return JSON.parse(
    fs.readFileSync(path.join(INFRA_DIR, 'core', 'security', 'roleDefinitions.json'), 'utf8'),
  ) as Record<string, string>;
}
