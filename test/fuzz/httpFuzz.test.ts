import { ROUTE_ACCESS, type HttpMethod, type RouteAccess } from '../../shared/auth/routeAccess';
import type { RouteName } from '../../shared/contracts/routes';
import { FUZZ_ROUTES } from './fuzzRoutes';
import { FuzzSession, registeredRoutes, responseProblem } from './fuzzRunner';

/**
 * The HTTP fuzzer's short profile (`npm run fuzz` is the long one): every route and method of the app gets
 * FUZZ_TEST_RUNS generated requests (default 120) — odd paths, queries, methods, identities, signatures and bodies —
 * and must answer each without a 5xx, every 4xx a JSON error naming the problem, and no rejected request may change
 * the stored state. The seed is printed on a failure; FUZZ_SEED replays it.
 */

const RUNS = Number(process.env.FUZZ_TEST_RUNS ?? 120);
const SEED = Number(process.env.FUZZ_SEED ?? 20261201);

let session: FuzzSession;

beforeAll(async () => {
  session = await FuzzSession.start();
}, 60_000);
afterAll(async () => {
  await session?.stop();
});

it('covers every route and method the app registers, with the access ROUTE_ACCESS gives it, and nothing else', () => {
  const registered = registeredRoutes(session.target.cp.host);
  const covered = Object.keys(FUZZ_ROUTES).sort();
  expect(covered).toEqual(registered);
  for (const [route, spec] of Object.entries(FUZZ_ROUTES)) {
    const [name, method] = route.split(' ') as [RouteName, HttpMethod];
    const access = (ROUTE_ACCESS[name] as Partial<Record<HttpMethod, RouteAccess>>)[method];
    expect(`${route}: ${spec.access}`).toBe(`${route}: ${String(access)}`);
  }
});

it('flags what the fuzzer must catch: a 5xx, a 503 even with Retry-After, a 4xx without a JSON error', () => {
  const request = {
    route: 'health GET',
    method: 'GET',
    path: '/api/health',
    headers: {},
    auth: { kind: 'none' as const },
  };
  const response = (
    status: number,
    text: string,
    contentType = 'application/json',
    retryAfter: string | null = null,
  ) => ({
    status,
    text,
    contentType,
    retryAfter,
  });
  expect(responseProblem(request, response(500, '{}'))).toMatch(/^500/);
  expect(
    responseProblem(request, response(503, '{"error":{"code":"X","message":"y"}}', 'application/json', '5')),
  ).toMatch(/503 with Retry-After/);
  expect(responseProblem(request, response(400, 'bad', 'text/plain'))).toMatch(/not JSON/);
  expect(responseProblem(request, response(400, '{"message":"x"}'))).toMatch(/not an error body/);
  expect(responseProblem(request, response(400, '{"error":{"code":"X","message":" "}}'))).toMatch(
    /empty message/,
  );
  expect(
    responseProblem(request, response(404, '{"error":{"code":"NotFound","message":"no such thing"}}')),
  ).toBeUndefined();
  expect(responseProblem(request, response(200, 'ok', 'text/plain'))).toBeUndefined();
});

it('shrinks a failing answer to one request and prints the seed that replays it', async () => {
  // A stand-in bug: any PATCH (a method the route does not serve) counts as a failure.
  const run = () =>
    session.fuzzRoute('failover POST', {
      runs: 200,
      seed: SEED,
      batch: 4,
      extraCheck: (request) => (request.method === 'PATCH' ? 'PATCH answered' : undefined),
    });
  const first = await run();
  expect(first.failure).toMatch(
    /seed \d+ \(replay: FUZZ_SEED=\d+ FUZZ_ROUTES='failover POST' npm run fuzz\)/,
  );
  expect(first.failure).toMatch(/PATCH answered\n {2}request: PATCH \/api\/v1\/clusters\//);
  expect(first.failure?.match(/request: /g)).toHaveLength(1);
  // The same seed finds the same request again.
  const again = await run();
  expect(again.failure?.split('request: ')[1]).toBe(first.failure?.split('request: ')[1]);
});

it('catches a rejected request that changes the state, and names it', async () => {
  // A write straight to the app's storage between two requests stands in for a handler that writes before it refuses.
  const failure = await session.fuzzRoute('health GET', {
    runs: 3,
    seed: SEED,
    batch: 1,
    afterEachRequest: async () => session.tamper(),
  });
  expect(failure.failure).toMatch(/changed the state \(table:\w+Tamper/);
  await session.rebaseline();
});

it(`answers ${RUNS} generated requests per route and method without a 5xx, with JSON errors, changing nothing when rejecting`, async () => {
  const summary = await session.run({ runs: RUNS, seed: SEED });
  const failures = summary.results.filter((r) => r.failure).map((r) => r.failure);
  expect(failures).toEqual([]);
  expect(summary.routes).toBe(Object.keys(FUZZ_ROUTES).length);
  for (const r of summary.results) expect(r.requests).toBeGreaterThanOrEqual(RUNS);
}, 240_000);
