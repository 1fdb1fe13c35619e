import { nodeModule } from '../realRequire';
import type { BindingInfo, FunctionCallback, RegisteredFunction } from './registeredFunction';

export type CoreLogHandler = (level: string, category: string, message: string) => void;

export interface CoreRegistry {
  functions: Map<string, RegisteredFunction>;
  hooks: Map<string, ((context: unknown) => unknown)[]>;
  programmingModel: unknown;
  log: CoreLogHandler;
}

class Disposable {
  readonly #dispose: () => void;
  constructor(dispose: () => void) {
    this.#dispose = dispose;
  }
  static from(...items: { dispose(): unknown }[]): Disposable {
    return new Disposable(() => items.forEach((item) => item.dispose()));
  }
  dispose(): void {
    this.#dispose();
  }
}

let active: CoreRegistry | undefined;
let installed = false;
let functionsPackageEntry: string | undefined;

/**
 * The stand-in for `@azure/functions-core`, the module the real worker injects. `@azure/functions` requires it
 * lazily on the first registration; without it the library enters "test mode" and silently drops registrations.
 */
const coreApi = {
  version: '3.10.1',
  hostVersion: '4.1036.0',
  Disposable,
  registerFunction(
    metadata: { name: string; bindings: Record<string, Omit<BindingInfo, 'name'>> },
    callback: FunctionCallback,
  ) {
    const registry = requireActive();
    if (registry.functions.has(metadata.name)) {
      throw new Error(`A function with the name "${metadata.name}" has already been registered.`);
    }
    let trigger: BindingInfo | undefined;
    let returnBinding: BindingInfo | undefined;
    const extraInputs: BindingInfo[] = [];
    const extraOutputs: BindingInfo[] = [];
    for (const [name, raw] of Object.entries(metadata.bindings)) {
      const binding = { ...raw, name } as BindingInfo;
      if (name === '$return') returnBinding = binding;
      else if (binding.direction === 'in' && /trigger$/i.test(binding.type)) trigger = binding;
      else if (binding.direction === 'in') extraInputs.push(binding);
      else extraOutputs.push(binding);
    }
    if (!trigger) throw new Error(`Function "${metadata.name}" has no trigger binding.`);
    registry.functions.set(metadata.name, {
      name: metadata.name,
      trigger,
      extraInputs,
      extraOutputs,
      returnBinding,
      callback,
    });
    return new Disposable(() => registry.functions.delete(metadata.name));
  },
  registerHook(hookName: string, callback: (context: unknown) => unknown) {
    const registry = requireActive();
    const list = registry.hooks.get(hookName) ?? [];
    list.push(callback);
    registry.hooks.set(hookName, list);
    return new Disposable(() => list.splice(list.indexOf(callback), 1));
  },
  setProgrammingModel(model: unknown) {
    requireActive().programmingModel = model;
  },
  getProgrammingModel() {
    return requireActive().programmingModel;
  },
  log(level: string, category: string, message: string) {
    requireActive().log(level, category, message);
  },
};

function requireActive(): CoreRegistry {
  if (!active)
    throw new Error('@azure/functions-core was used while no Functions app is loading in the devhost');
  return active;
}

/**
 * Installs the `@azure/functions-core` stand-in into Node's module system (once per process) and makes `registry`
 * the one that receives registrations. Like the worker, it also makes every `require('@azure/functions')` resolve
 * to the app's own copy so `instanceof HttpResponse` holds across nested copies.
 */
export function activateCoreRegistry(registry: CoreRegistry, functionsEntry: string): void {
  active = registry;
  functionsPackageEntry = functionsEntry;
  if (installed) return;
  installed = true;
  // eslint-disable-next-line @typescript-eslint/unbound-method -- called with .call(this) below
  const originalRequire = nodeModule.prototype.require;
  nodeModule.prototype.require = function (this: unknown, id: string) {
    if (id === '@azure/functions-core') return coreApi;
    return originalRequire.call(this, id);
  } as typeof originalRequire;
  const originalResolve = nodeModule._resolveFilename.bind(nodeModule);
  nodeModule._resolveFilename = (request: string, parent: unknown, isMain: boolean, options?: unknown) => {
    if (request === '@azure/functions' && functionsPackageEntry) return functionsPackageEntry;
    return originalResolve(request, parent, isMain, options);
  };
}
