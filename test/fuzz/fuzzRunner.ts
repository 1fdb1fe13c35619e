import { randomUUID } from 'node:crypto';
import { TableClient } from '@azure/data-tables';
import fc from 'fast-check';
import { readErrorBody } from '../../shared/contracts/errors';
import { routes, type RouteName } from '../../shared/contracts/routes';
import type { Devhost } from '../../devhost';
import { requestArbitrary } from './fuzzArbitraries';
import { FUZZ_ROUTES, type FuzzRequest } from './fuzzRoutes';
import { startFuzzTarget, type FuzzResponse, type FuzzTarget } from './fuzzTarget';
import { changedParts, stateReader, type StateReader, type StateSnapshot } from './stateSnapshot';

export interface FuzzOptions {
  /** Requests per route and method (at least). */
  runs: number;
  seed: number;
  /** Largest batch of requests between two state comparisons. Default 25. */
  batch?: number;
  /** Only these `<route> <method>` entries (default: all). */
  only?: string[];
  /** A further check of each answer (tests: a stand-in bug, to prove a failure is shrunk and printed). */
  extraCheck?: (request: FuzzRequest, response: FuzzResponse) => string | undefined;
  /** Called after each request (tests: a write behind the app's back, to prove the state check fails). */
  afterEachRequest?: () => Promise<void>;
  /** Also print the refusals by status and error code. */
  verbose?: boolean;
  /** Progress lines (per route). */
  log?: (line: string) => void;
}

export interface RouteResult {
  route: string;
  requests: number;
  /** Requests answered 2xx (allowed to change state; the snapshot is retaken after each). */
  accepted: number;
  statuses: Record<string, number>;
  /** `<status> <error code>` of the refusals, with counts: what the generated requests ran into. */
  codes: Record<string, number>;
  ms: number;
  /** The failure (seed, shrunk request, what was wrong), if any. */
  failure?: string;
}

export interface FuzzSummary {
  requests: number;
  routes: number;
  failures: number;
  seed: number;
  ms: number;
  results: RouteResult[];
}

/** What is wrong with a response to a generated request, or undefined when nothing is. */
export function responseProblem(request: FuzzRequest, response: FuzzResponse): string | undefined {
  const { status } = response;
  if (status >= 500) {
    return status === 503 && response.retryAfter
      ? `503 with Retry-After on a healthy storage emulator: ${response.text.slice(0, 300)}`
      : `${status}: ${response.text.slice(0, 300)}`;
  }
  if (status >= 300 && status < 400 && request.auth.kind !== 'none')
    return `a redirect (${status}) from an API route`;
  if (status >= 400) {
    if (!/\bjson\b/i.test(response.contentType))
      return `${status} is not JSON (content-type ${response.contentType || 'none'}): ${response.text.slice(0, 200)}`;
    let parsed: unknown;
    try {
      parsed = JSON.parse(response.text);
    } catch {
      return `${status} has a body that does not parse as JSON: ${response.text.slice(0, 200)}`;
    }
    const error = readErrorBody(parsed);
    if (!error)
      return `${status} is not an error body {error:{code,message}}: ${response.text.slice(0, 200)}`;
    if (error.message.trim().length === 0) return `${status} ${error.code} has an empty message`;
  }
  return undefined;
}

const errorCode = (text: string): string => {
  try {
    return readErrorBody(JSON.parse(text))?.code ?? '?';
  } catch {
    return '?';
  }
};

/** Every (route, method) the app registers, as `<route name> <METHOD>` (or the template when it has no name). */
export function registeredRoutes(host: Devhost): string[] {
  const byTemplate = new Map<string, RouteName>(
    Object.entries(routes).map(([name, template]) => [template, name as RouteName]),
  );
  return [...host.app.functions.values()]
    .filter((fn) => fn.trigger.type.toLowerCase() === 'httptrigger')
    .flatMap((fn) =>
      (fn.trigger.methods as string[]).map(
        (method) =>
          `${byTemplate.get(fn.trigger.route as string) ?? String(fn.trigger.route)} ${method.toUpperCase()}`,
      ),
    )
    .sort();
}

/** How far the clock moves after an accepted write: past an arbitration window (default 2 s). */
const SETTLE_ADVANCE_MS = 5_000;

/** A failure of a request or a batch: names the request and what was wrong. */
class FuzzFailure extends Error {}

/** A request as a person would reproduce it (bodies cut to 500 characters). */
export function describeRequest(request: FuzzRequest): string {
  const body =
    request.body === undefined
      ? ''
      : ` body(${request.body.length} chars)=${JSON.stringify(request.body.slice(0, 500))}`;
  const path =
    request.path.length > 300 ? `${request.path.slice(0, 300)}…(${request.path.length} chars)` : request.path;
  return `${request.method} ${path} auth=${JSON.stringify(request.auth)} headers=${JSON.stringify(request.headers)} content-type=${request.contentType ?? '(none)'}${body}`;
}

/**
 * The fuzzing session: one devhost, one state reader; `fuzzRoute` runs one route's requests in batches. Each
 * batch is one fast-check run (an array of 1..batch generated requests): every response is checked; after a 2xx the
 * state is left to settle and re-read; at the end of the batch the state must equal the last one read. A failing
 * batch is shrunk by fast-check (fewer requests, simpler ones), so the failure names the request that did it.
 */
export class FuzzSession {
  private baseline: StateSnapshot | undefined;

  private constructor(
    readonly target: FuzzTarget,
    private readonly reader: StateReader,
  ) {}

  static async start(): Promise<FuzzSession> {
    const target = await startFuzzTarget();
    const reader = stateReader(
      target.cp.settings.AzureWebJobsStorage as string,
      target.cp.settings.TABLE_PREFIX as string,
      'FailoverPlane',
    );
    const session = new FuzzSession(target, reader);
    await session.settle();
    return session;
  }

  /** Writes to a table of the app's storage behind its back (what a handler that writes before refusing does). */
  async tamper(): Promise<void> {
    const settings = this.target.cp.settings;
    const table = TableClient.fromConnectionString(
      settings.AzureWebJobsStorage as string,
      `${settings.TABLE_PREFIX as string}FuzzTamper`,
      { allowInsecureConnection: true },
    );
    await table.createTable();
    await table.upsertEntity({ partitionKey: 'p', rowKey: 'r', value: randomUUID() }, 'Replace');
  }

  /** Takes the current state as the one the next requests must leave unchanged. */
  async rebaseline(): Promise<void> {
    this.baseline = await this.reader.snapshot();
  }

  async stop(): Promise<void> {
    await this.target.stop();
  }

  /**
   * After an accepted write: moves the manual clock on when the request started something (202: an arbitration
   * window, a timeout runs its course instead of leaving the next request waiting for it), then waits (polling, with a
   * deadline) until the task hub is idle and two reads of the state agree, and keeps that state.
   */
  private async settle(advance = true, timeoutMs = 20_000): Promise<void> {
    if (advance) this.target.clock.advance(SETTLE_ADVANCE_MS);
    const deadline = Date.now() + timeoutMs;
    let previous = await this.reader.snapshot();
    for (;;) {
      const idle = await this.reader.durableIdle();
      const current = await this.reader.snapshot();
      if (idle && current.digest === previous.digest) {
        this.baseline = current;
        return;
      }
      if (Date.now() > deadline)
        throw new Error('the state did not settle within 20 s after an accepted request');
      previous = current;
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  }

  /**
   * Which of `requests` (each refused) changes the state: each is sent again alone, the state compared after it.
   * The answer names the first that does, or lists them all when none does twice.
   */
  private async culprit(requests: FuzzRequest[], options: FuzzOptions): Promise<string> {
    for (const request of requests) {
      const before = this.baseline as StateSnapshot;
      const response = await this.target.send(request);
      await options.afterEachRequest?.();
      const after = await this.reader.snapshot();
      this.baseline = after;
      if (after.digest !== before.digest)
        return `replayed alone, this request (answered ${response.status}) changed ${changedParts(before, after).join(', ')}:\n    ${describeRequest(request)}`;
    }
    return `no request of the batch changed the state again when replayed alone; the batch's refused requests:\n${requests
      .map((r) => `    ${describeRequest(r)}`)
      .join('\n')}`;
  }

  async fuzzRoute(route: string, options: FuzzOptions): Promise<RouteResult> {
    const spec = FUZZ_ROUTES[route];
    if (!spec) throw new Error(`no fuzz entry for ${route}`);
    const started = Date.now();
    const result: RouteResult = { route, requests: 0, accepted: 0, statuses: {}, codes: {}, ms: 0 };
    const batch = options.batch ?? 25;
    const arbitrary = fc.array(requestArbitrary(route, spec), {
      minLength: 1,
      maxLength: batch,
      size: 'max',
    });
    // A change of state is named by replaying the batch one request at a time (not by shrinking, which would
    // replay it again and again while the change, once made, may not happen twice); the runs left are skipped.
    let stateFailure: string | undefined;
    const property = fc.asyncProperty(arbitrary, async (requests) => {
      if (stateFailure) return;
      const rejected: FuzzRequest[] = [];
      for (const request of requests) {
        const response = await this.target.send(request);
        await options.afterEachRequest?.();
        result.requests++;
        result.statuses[response.status] = (result.statuses[response.status] ?? 0) + 1;
        const problem = responseProblem(request, response) ?? options.extraCheck?.(request, response);
        if (!problem && response.status >= 400) {
          const code = `${response.status} ${errorCode(response.text)}`;
          result.codes[code] = (result.codes[code] ?? 0) + 1;
        }
        if (problem) throw new FuzzFailure(`${problem}\n  request: ${describeRequest(request)}`);
        if (response.status >= 200 && response.status < 300) {
          result.accepted++;
          // An accepted read must not change the state either (checked at the end of the batch); an accepted
          // write may: the state is re-read once it settled.
          if (request.method !== 'GET') {
            await this.settle(response.status === 202);
            rejected.length = 0;
          }
        } else rejected.push(request);
      }
      const before = this.baseline as StateSnapshot;
      const after = await this.reader.snapshot();
      if (after.digest !== before.digest) {
        this.baseline = after;
        stateFailure = `rejected requests changed the state (${changedParts(before, after).join(', ')})\n  ${await this.culprit(rejected, options)}`;
      }
    });
    // Rounds until `runs` requests went out; round k uses seed + k, so FUZZ_SEED=<round seed> replays a round.
    const meanBatch = (batch + 1) / 2;
    for (let round = 0; result.requests < options.runs && !result.failure; round++) {
      const seed = options.seed + round;
      const numRuns = Math.max(1, Math.ceil((options.runs - result.requests) / meanBatch));
      const details = await fc.check(property, { seed, numRuns });
      if (stateFailure)
        result.failure = `${route}: seed ${seed} (replay: FUZZ_SEED=${seed} FUZZ_ROUTES='${route}' npm run fuzz):\n  ${stateFailure}`;
      else if (details.failed) {
        const error = details.errorInstance;
        const message = error instanceof Error ? error.message : String(error);
        result.failure = `${route}: seed ${seed} (replay: FUZZ_SEED=${seed} FUZZ_ROUTES='${route}' npm run fuzz), path ${details.counterexamplePath ?? '?'}, shrunk ${details.numShrinks} times:\n  ${message}`;
      }
    }
    result.ms = Date.now() - started;
    return result;
  }

  /** Runs every selected route; the summary (and each route's result through `log`). */
  async run(options: FuzzOptions): Promise<FuzzSummary> {
    const started = Date.now();
    const selected = Object.keys(FUZZ_ROUTES).filter((r) => !options.only || options.only.includes(r));
    const results: RouteResult[] = [];
    for (const route of selected) {
      const result = await this.fuzzRoute(route, options);
      results.push(result);
      options.log?.(
        `${route}: ${result.requests} requests (${result.accepted} accepted) in ${result.ms} ms; statuses ${JSON.stringify(result.statuses)}${options.verbose ? `\n  refusals ${JSON.stringify(result.codes)}` : ''}${result.failure ? `\nFAILED ${result.failure}` : ''}`,
      );
    }
    return {
      requests: results.reduce((n, r) => n + r.requests, 0),
      routes: results.length,
      failures: results.filter((r) => r.failure).length,
      seed: options.seed,
      ms: Date.now() - started,
      results,
    };
  }
}
