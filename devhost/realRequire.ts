import type * as NodeModuleNs from 'node:module';

type NodeModuleApi = typeof NodeModuleNs & {
  _resolveFilename(request: string, parent: unknown, isMain: boolean, options?: unknown): string;
  prototype: { require(id: string): unknown };
};

/**
 * Node's own `module` API. `process.getBuiltinModule` reaches the real one even when the devhost runs inside a
 * test runner that replaces `require` with its own module registry (jest), so Functions apps are loaded by Node
 * exactly as the Functions worker loads them.
 */
export const nodeModule: NodeModuleApi = (
  (process as unknown as { getBuiltinModule?: (id: string) => unknown }).getBuiltinModule?.('node:module') ??
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  require('node:module')
) as NodeModuleApi;

/** A real Node `require` resolving from `fromPath` (a file or a directory ending in `/`). */
export function realRequire(fromPath: string): NodeJS.Require {
  return nodeModule.createRequire(fromPath);
}
