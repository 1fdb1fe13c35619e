import { randomUUID } from 'node:crypto';
import { TableClient, type TableEntity } from '@azure/data-tables';
import { BlobServiceClient } from '@azure/storage-blob';
import { QueueServiceClient } from '@azure/storage-queue';
import { triggerKindOf, type BindingInfo, type RegisteredFunction } from '../app/registeredFunction';

/**
 * Output bindings the devhost honours, against the storage account their `connection` setting names (by default
 * AzureWebJobsStorage, the embedded Azurite): Blob, Queue and Table, the kinds Azurite serves. Any other output
 * binding fails the app load, naming the function and the binding, instead of being dropped at run time.
 */
export const SUPPORTED_OUTPUT_TYPES: readonly string[] = ['blob', 'queue', 'table'];

export class OutputBindingError extends Error {
  override readonly name = 'OutputBindingError';
}

type Env = NodeJS.ProcessEnv;

/** The connection string a binding's `connection` names: `<name>`, then `AzureWebJobs<name>` (the host's order). */
export function connectionStringFor(binding: BindingInfo, env: Env): string | undefined {
  const name = typeof binding.connection === 'string' && binding.connection ? binding.connection : undefined;
  if (!name) return env.AzureWebJobsStorage;
  return env[name] ?? env[`AzureWebJobs${name}`];
}

function describe(fn: RegisteredFunction, binding: BindingInfo): string {
  return `function "${fn.name}": output binding "${binding.name}" (type "${binding.type}")`;
}

/** The output bindings of `fn` the devhost writes after a successful invocation (extra outputs and `$return`). */
function outputsOf(fn: RegisteredFunction): BindingInfo[] {
  const outputs = [...fn.extraOutputs];
  if (fn.returnBinding && !(triggerKindOf(fn) === 'http' && fn.returnBinding.type === 'http'))
    outputs.push(fn.returnBinding);
  return outputs;
}

/**
 * Refuses, at load time, every output binding the devhost cannot honour: an unsupported kind, an output on an
 * orchestrator (the extension forbids them), a non-HTTP return on an HTTP trigger, a missing connection setting or a
 * missing required option. The message names the function and the binding.
 */
export function checkOutputBindings(functions: Iterable<RegisteredFunction>, env: Env): void {
  const problems: string[] = [];
  for (const fn of functions) {
    const kind = triggerKindOf(fn);
    for (const binding of outputsOf(fn)) {
      const type = binding.type.toLowerCase();
      if (binding.name === '$return' && kind === 'http') {
        problems.push(`${describe(fn, binding)}: an HTTP trigger's return must be the http output`);
        continue;
      }
      if (kind === 'orchestration' || kind === 'entity') {
        problems.push(
          `${describe(fn, binding)}: orchestrator and entity functions cannot have output bindings`,
        );
        continue;
      }
      if (type === 'http') {
        if (binding.name !== '$return')
          problems.push(`${describe(fn, binding)}: an http output must be the return`);
        continue;
      }
      if (!SUPPORTED_OUTPUT_TYPES.includes(type)) {
        problems.push(
          `${describe(fn, binding)} is not supported by the devhost (it supports ${SUPPORTED_OUTPUT_TYPES.join(', ')} outputs on Azurite)`,
        );
        continue;
      }
      const required = type === 'blob' ? 'path' : type === 'queue' ? 'queueName' : 'tableName';
      if (typeof binding[required] !== 'string' || !binding[required]) {
        problems.push(`${describe(fn, binding)} has no "${required}"`);
        continue;
      }
      if (!connectionStringFor(binding, env)) {
        problems.push(
          `${describe(fn, binding)}: the connection setting "${String(binding.connection)}" is not in the environment or local.settings.json`,
        );
      }
    }
  }
  if (problems.length > 0) {
    throw new OutputBindingError(`Output bindings the devhost cannot honour:\n  ${problems.join('\n  ')}`);
  }
}

/** `{DateTime}` as the host formats it in binding expressions. */
const bindingDateTime = (ms: number) =>
  new Date(ms)
    .toISOString()
    .replace(/\.\d{3}Z$/, 'Z')
    .replace(/:/g, '-');

/**
 * Resolves `{rand-guid}`, `{DateTime}` and trigger binding data (route parameters, query values, ...) in a path or
 * name; an unknown expression is an error naming it, as the host's would be.
 */
export function resolveBindingExpression(
  template: string,
  data: Record<string, string>,
  now: number,
  what: string,
): string {
  return template.replace(/\{([^{}]+)\}/g, (_, expression: string) => {
    if (expression.toLowerCase() === 'rand-guid') return randomUUID();
    if (expression.toLowerCase() === 'datetime') return bindingDateTime(now);
    const key = Object.keys(data).find((k) => k.toLowerCase() === expression.toLowerCase());
    if (key === undefined)
      throw new OutputBindingError(`${what}: no value for the binding expression {${expression}}`);
    return data[key] as string;
  });
}

function toBytes(value: unknown): Buffer {
  if (Buffer.isBuffer(value)) return value;
  if (value instanceof Uint8Array || ArrayBuffer.isView(value))
    return Buffer.from(value.buffer, value.byteOffset, value.byteLength);
  if (value instanceof ArrayBuffer) return Buffer.from(value);
  if (typeof value === 'string') return Buffer.from(value, 'utf8');
  return Buffer.from(JSON.stringify(value), 'utf8');
}

function toText(value: unknown): string {
  if (typeof value === 'string') return value;
  if (Buffer.isBuffer(value) || value instanceof Uint8Array) return toBytes(value).toString('utf8');
  return JSON.stringify(value);
}

export interface OutputWriteRequest {
  fn: RegisteredFunction;
  /** The invocation's `InvocationContext` (its `extraOutputs` holds what the handler set). */
  context: unknown;
  /** What the handler returned (for a non-HTTP `$return` binding). */
  returnValue: unknown;
  /** Trigger binding data for `{name}` expressions. */
  bindingData?: Record<string, string>;
  env: Env;
  now: number;
}

/** Writes every output binding value of one successful invocation; a failure fails the invocation. */
export async function writeOutputBindings(request: OutputWriteRequest): Promise<void> {
  const { fn, env } = request;
  const extraOutputs = (request.context as { extraOutputs?: { get(binding: unknown): unknown } })
    .extraOutputs;
  for (const binding of outputsOf(fn)) {
    if (binding.type.toLowerCase() === 'http') continue;
    const value = binding.name === '$return' ? request.returnValue : extraOutputs?.get(binding);
    if (value === undefined || value === null) continue; // nothing set: nothing written, as the host does
    const connectionString = connectionStringFor(binding, env);
    if (!connectionString) throw new OutputBindingError(`${describe(fn, binding)}: no connection string`);
    const what = describe(fn, binding);
    const resolve = (template: string) =>
      resolveBindingExpression(template, request.bindingData ?? {}, request.now, what);
    switch (binding.type.toLowerCase()) {
      case 'blob':
        await writeBlob(connectionString, resolve(String(binding.path)), value, what);
        break;
      case 'queue':
        await writeQueue(connectionString, resolve(String(binding.queueName)), value);
        break;
      case 'table':
        await writeTable(connectionString, resolve(String(binding.tableName)), binding, value, what);
        break;
      default:
        throw new OutputBindingError(`${what} is not supported by the devhost`);
    }
  }
}

async function writeBlob(
  connectionString: string,
  blobPath: string,
  value: unknown,
  what: string,
): Promise<void> {
  const slash = blobPath.indexOf('/');
  if (slash <= 0 || slash === blobPath.length - 1)
    throw new OutputBindingError(`${what}: the path "${blobPath}" must be <container>/<blob name>`);
  const container = BlobServiceClient.fromConnectionString(connectionString).getContainerClient(
    blobPath.slice(0, slash),
  );
  await container.createIfNotExists();
  const bytes = toBytes(value);
  await container.getBlockBlobClient(blobPath.slice(slash + 1)).uploadData(bytes);
}

async function writeQueue(connectionString: string, queueName: string, value: unknown): Promise<void> {
  const queue = QueueServiceClient.fromConnectionString(connectionString).getQueueClient(queueName);
  await queue.createIfNotExists();
  // An array is one message per element; messages are base64 as the host writes them (messageEncoding base64).
  for (const item of Array.isArray(value) ? (value as unknown[]) : [value]) {
    await queue.sendMessage(Buffer.from(toText(item), 'utf8').toString('base64'));
  }
}

async function writeTable(
  connectionString: string,
  tableName: string,
  binding: BindingInfo,
  value: unknown,
  what: string,
): Promise<void> {
  const table = TableClient.fromConnectionString(connectionString, tableName, {
    allowInsecureConnection: true,
  });
  await table.createTable(); // succeeds if it exists
  for (const item of Array.isArray(value) ? (value as unknown[]) : [value]) {
    if (typeof item !== 'object' || item === null)
      throw new OutputBindingError(
        `${what}: a table output value must be an object (or an array of objects)`,
      );
    const { PartitionKey, RowKey, partitionKey, rowKey, ...properties } = item as Record<string, unknown>;
    const pk = PartitionKey ?? partitionKey ?? binding.partitionKey;
    const rk = RowKey ?? rowKey ?? binding.rowKey;
    if (typeof pk !== 'string' || typeof rk !== 'string')
      throw new OutputBindingError(`${what}: every entity needs a string PartitionKey and RowKey`);
    const entity: TableEntity = { partitionKey: pk, rowKey: rk, ...properties };
    await table.createEntity(entity);
  }
}
