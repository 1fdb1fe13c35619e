/** Orchestrator action types (`actionType`) as durable-functions emits them. */
export enum ActionType {
  CallActivity = 0,
  CallActivityWithRetry = 1,
  CallSubOrchestrator = 2,
  CallSubOrchestratorWithRetry = 3,
  ContinueAsNew = 4,
  CreateTimer = 5,
  WaitForExternalEvent = 6,
  CallEntity = 7,
  CallHttp = 8,
  SignalEntity = 9,
  WhenAny = 11,
  WhenAll = 12,
  LockEntities = 13,
  ReleaseEntities = 14,
}

export interface RetryOptionsJson {
  firstRetryIntervalInMilliseconds: number;
  maxNumberOfAttempts: number;
  backoffCoefficient?: number;
  maxRetryIntervalInMilliseconds?: number;
  retryTimeoutInMilliseconds?: number;
}

export interface HttpRequestJson {
  method: string;
  uri: string;
  content?: string;
  headers?: Record<string, string>;
  tokenSource?: unknown;
  asynchronousPatternEnabled?: boolean;
}

/** One action in the JSON form the worker sends to the host (Dates already ISO strings). */
export interface ActionJson {
  actionType: ActionType;
  functionName?: string;
  input?: unknown;
  retryOptions?: RetryOptionsJson;
  instanceId?: string;
  version?: string;
  fireAt?: string;
  isCanceled?: boolean;
  externalEventName?: string;
  compoundActions?: ActionJson[];
  httpRequest?: HttpRequestJson;
  operation?: string;
}

/** The orchestrator's reply (`OrchestratorState`) after a JSON round trip. */
export interface OrchestratorStateJson {
  isDone: boolean;
  actions: ActionJson[][];
  output?: unknown;
  error?: string;
  customStatus?: unknown;
  schemaVersion?: number;
}

/** Actions that take a sequence id when first yielded. */
export function consumesTaskId(action: ActionJson): boolean {
  switch (action.actionType) {
    case ActionType.CallActivity:
    case ActionType.CallActivityWithRetry:
    case ActionType.CallSubOrchestrator:
    case ActionType.CallSubOrchestratorWithRetry:
    case ActionType.CreateTimer:
    case ActionType.CallHttp:
    case ActionType.CallEntity:
    case ActionType.SignalEntity:
      return true;
    default:
      return false;
  }
}

/** Flattens V2/V3 `actions` depth-first, compound children in order: the order the library hands out ids. */
export function flattenActions(actions: ActionJson[][]): ActionJson[] {
  const out: ActionJson[] = [];
  const visit = (action: ActionJson) => {
    if (action.actionType === ActionType.WhenAll || action.actionType === ActionType.WhenAny) {
      for (const child of action.compoundActions ?? []) visit(child);
    } else {
      out.push(action);
    }
  };
  for (const group of actions) for (const action of group) visit(action);
  return out;
}

export const isRetryAction = (a: ActionJson): boolean =>
  a.actionType === ActionType.CallActivityWithRetry ||
  a.actionType === ActionType.CallSubOrchestratorWithRetry;

export const isSubOrchestrationAction = (a: ActionJson): boolean =>
  a.actionType === ActionType.CallSubOrchestrator || a.actionType === ActionType.CallSubOrchestratorWithRetry;

/** The `Name` recorded on the scheduling event of an action. */
export function scheduledNameOf(action: ActionJson): string {
  if (action.actionType === ActionType.CallHttp) return BUILTIN_HTTP_ACTIVITY;
  if (action.actionType === ActionType.CreateTimer) return '';
  return action.functionName ?? '';
}

export const BUILTIN_HTTP_ACTIVITY = 'BuiltIn::HttpActivity';

/** Undo the library's pre-encoding of string inputs (`"one"` arrives as `"\"one\""`). */
export function decodeActionInput(input: unknown): unknown {
  if (typeof input !== 'string') return input ?? null;
  try {
    return JSON.parse(input) as unknown;
  } catch {
    return input;
  }
}
