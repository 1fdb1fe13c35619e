import type * as NodeModuleNs from 'node:module';
import type * as NodeVm from 'node:vm';

type NodeModuleApi = typeof NodeModuleNs & {
  _resolveFilename(request: string, parent: unknown, isMain: boolean, options?: unknown): string;
  prototype: { require(id: string): unknown };
};

/**
 * Node's own `module` API. Test runners (jest) hand out a subclass of Module whose `createRequire` returns their
 * own registry's require, even through `process.getBuiltinModule`; walking up to the class that owns `_load` finds
 * Node's, so Functions apps are loaded by Node exactly as the Functions worker loads them.
 */
function findNodeModule(): NodeModuleApi {
  let candidate = ((process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.(
    'node:module',
  ) ??
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    require('node:module')) as object | null;
  // A subclass (the test runner's) sits below Node's Module: climb to the root class that still has `_load`.
  for (;;) {
    const parent = candidate ? (Object.getPrototypeOf(candidate) as unknown) : null;
    if (typeof parent === 'function' && typeof (parent as { _load?: unknown })._load === 'function')
      candidate = parent;
    else break;
  }
  if (!candidate) throw new Error("Node's module loader could not be found");
  return candidate as NodeModuleApi;
}

export const nodeModule: NodeModuleApi = findNodeModule();

/** A real Node `require` resolving from `fromPath` (a file or a directory ending in `/`). */
export function realRequire(fromPath: string): NodeJS.Require {
  return nodeModule.createRequire(fromPath);
}

/** The real `process` (a test runner's sandbox may hand out a copy whose `env` the app never sees). */
export const realProcess: NodeJS.Process = realRequire(__filename)('node:process') as NodeJS.Process;

/**
 * Node's own `globalThis`, the one app code loaded through `realRequire` sees (a test runner's sandbox has another).
 */
export const realGlobal: typeof globalThis = (
  realRequire(__filename)('node:vm') as typeof NodeVm
).runInThisContext('globalThis') as typeof globalThis;
