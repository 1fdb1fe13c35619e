import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';

/** The control plane's version, from its package.json (found from here in source and in dist alike). */
function readVersion(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    const file = path.join(dir, 'package.json');
    if (!existsSync(file)) continue;
    const pkg = JSON.parse(readFileSync(file, 'utf8')) as { name?: string; version?: string };
    if (pkg.name === 'failover-plane' && pkg.version) return pkg.version;
  }
  return '0.0.0-unknown';
}

export const version: string = readVersion();
