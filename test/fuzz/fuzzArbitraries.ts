import fc from 'fast-check';
import { ROUTE_ACCESS } from '../../shared/auth/routeAccess';
import { encodeClientPrincipal } from '../../shared/auth/clientPrincipal';
import { isRole, roleIncludes, type Role } from '../../shared/auth/roles';
import { ROUTE_PREFIX, routes, type RouteName } from '../../shared/contracts/routes';
import {
  FUZZ_CLUSTER,
  FUZZ_NODES,
  methodsOf,
  type FuzzAuth,
  type FuzzRequest,
  type FuzzRouteSpec,
} from './fuzzRoutes';

type Json = null | boolean | number | string | Json[] | { [key: string]: Json };

const ROLES: Role[] = ['viewer', 'operator', 'admin'];
const METHODS = ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'];

/** Strings that break parsers and validators: number-like text, prototype keys, control and odd unicode. */
const oddStrings = fc.constantFrom(
  '',
  ' ',
  'NaN',
  'Infinity',
  '-Infinity',
  '-1',
  '1e309',
  '0x10',
  'null',
  'undefined',
  'true',
  '__proto__',
  'constructor',
  'toString',
  '\u0000',
  '\ud800',
  '\udfff',
  '\u202e',
  '\ufeff',
  '🦄💥',
  'Ω≈ç√',
  '../..',
  '%2F',
  '<script>',
  "'; DROP TABLE x;--",
  '2026-02-30T25:61:61Z',
  'head-a',
  'HEAD-A',
  'a'.repeat(64),
);

const hugeString = fc.integer({ min: 1_000, max: 80_000 }).map((n) => 'x'.repeat(n));

const oddNumbers = fc.oneof(
  fc.constantFrom(-1, 0, -0, 1.5, 2 ** 31, 2 ** 53, 2 ** 53 + 2, 1e308, -1e308, Number.MIN_VALUE),
  fc.integer(),
  fc.double({ noNaN: true, noDefaultInfinity: true }),
);

/** A scalar of any type, biased towards the awkward ones. */
const oddScalar: fc.Arbitrary<Json> = fc.oneof(
  { weight: 3, arbitrary: oddStrings },
  { weight: 2, arbitrary: oddNumbers },
  { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 40 }) },
  { weight: 1, arbitrary: fc.constantFrom<Json>(true, false, null) },
  { weight: 1, arbitrary: hugeString },
);

/** Any JSON value: scalars, small trees, deep nesting. */
const oddValue: fc.Arbitrary<Json> = fc.oneof(
  { weight: 5, arbitrary: oddScalar },
  { weight: 2, arbitrary: fc.jsonValue({ maxDepth: 3 }) as fc.Arbitrary<Json> },
  { weight: 1, arbitrary: fc.constantFrom<Json>([], {}) },
  { weight: 1, arbitrary: fc.integer({ min: 10, max: 400 }).map((d) => nested(d)) },
);

function nested(depth: number): Json {
  let value: Json = 'deep';
  for (let i = 0; i < depth; i++) value = i % 2 ? [value] : { a: value };
  return value;
}

/** Every path (of keys and indices) inside a JSON value, the root first. */
function pathsOf(value: Json, prefix: (string | number)[] = []): (string | number)[][] {
  const out = [prefix];
  if (Array.isArray(value)) value.forEach((v, i) => out.push(...pathsOf(v, [...prefix, i])));
  else if (value && typeof value === 'object')
    for (const [k, v] of Object.entries(value)) out.push(...pathsOf(v, [...prefix, k]));
  return out;
}

/** A copy of `value` with the thing at `at` replaced by `f(old)` (or removed when `f` returns undefined). */
function update(value: Json, at: (string | number)[], f: (old: Json) => Json | undefined): Json {
  if (at.length === 0) return f(value) ?? null;
  const [head, ...rest] = at as [string | number, ...(string | number)[]];
  if (Array.isArray(value)) {
    const copy = [...value];
    const inner =
      rest.length === 0 ? f(copy[head as number] as Json) : update(copy[head as number] as Json, rest, f);
    if (inner === undefined) copy.splice(head as number, 1);
    else copy[head as number] = inner;
    return copy;
  }
  if (value && typeof value === 'object') {
    const copy: { [key: string]: Json } = { ...value };
    const inner =
      rest.length === 0 ? f(copy[head as string] as Json) : update(copy[head as string] as Json, rest, f);
    if (inner === undefined) delete copy[head as string];
    else copy[head as string] = inner;
    return copy;
  }
  return value;
}

type Mutation = (value: Json) => Json;

/** One mutation of a JSON value at a point chosen by index: drop, retype, add a field, duplicate into an array. */
const mutation: fc.Arbitrary<Mutation> = fc
  .tuple(
    fc.nat(),
    fc.constantFrom('drop', 'retype', 'add', 'wrap', 'duplicate'),
    oddValue,
    fc.oneof(oddStrings, fc.string({ maxLength: 12 })),
  )
  .map(([index, kind, replacement, key]) => (value: Json): Json => {
    const all = pathsOf(value);
    const at = all[index % all.length] as (string | number)[];
    switch (kind) {
      case 'drop':
        return at.length === 0 ? replacement : update(value, at, () => undefined);
      case 'retype':
        return update(value, at, () => replacement);
      case 'add':
        return update(value, at, (old) =>
          old && typeof old === 'object' && !Array.isArray(old)
            ? { ...old, [key]: replacement }
            : [old, replacement],
        );
      case 'wrap':
        return update(value, at, (old) => [old]);
      default:
        return update(value, at, (old) => (Array.isArray(old) ? [...old, ...old] : old));
    }
  });

/** A mutated copy of `base`: one to three mutations. */
const mutated = (base: Json): fc.Arbitrary<Json> =>
  fc.array(mutation, { minLength: 1, maxLength: 3 }).map((ms) => ms.reduce((v, m) => m(v), base));

/** A body's text: the valid body, a mutation of it, or text that is not JSON, or JSON with a duplicated key. */
function bodyText(base: Json | undefined): fc.Arbitrary<string | undefined> {
  const valid = base ?? {};
  const text = JSON.stringify(valid);
  return fc.oneof(
    { weight: 2, arbitrary: fc.constant(base === undefined ? undefined : text) },
    { weight: 8, arbitrary: mutated(valid).map((v) => JSON.stringify(v)) },
    { weight: 1, arbitrary: fc.nat({ max: Math.max(0, text.length - 1) }).map((n) => text.slice(0, n)) },
    { weight: 1, arbitrary: fc.string({ unit: 'binary', maxLength: 200 }) },
    {
      weight: 1,
      arbitrary: fc.constantFrom(
        '',
        'null',
        '[]',
        '"x"',
        '1',
        'NaN',
        '{"a":NaN}',
        '{"a":Infinity}',
        "{'a':1}",
        '{"a":1,}',
        '\ufeff{}',
        `${text}garbage`,
        `${text}${text}`,
        '{"__proto__":{"admin":true}}',
        '{"constructor":{"prototype":{"admin":true}}}',
      ),
    },
    {
      weight: 1,
      // A key present twice: JSON.parse keeps the last one.
      arbitrary: fc
        .tuple(oddValue, fc.constantFrom(...keysOf(valid)))
        .map(([value, key]) => `{${JSON.stringify(key)}:${JSON.stringify(value)},${text.slice(1)}`),
    },
    {
      weight: 1,
      arbitrary: fc.integer({ min: 500, max: 5_000 }).map((d) => `${'['.repeat(d)}${']'.repeat(d)}`),
    },
    {
      weight: 1,
      arbitrary: fc
        .integer({ min: 100_000, max: 1_200_000 })
        .map((n) => JSON.stringify({ big: 'x'.repeat(n) })),
    },
  );
}

const isObject = (v: Json): v is { [key: string]: Json } => !!v && typeof v === 'object' && !Array.isArray(v);

/** The keys of a body object to duplicate (a made-up one for an empty body). */
function keysOf(v: Json): string[] {
  const keys = isObject(v) ? Object.keys(v) : [];
  return keys.length ? keys : ['a'];
}

const contentType = fc.oneof(
  { weight: 6, arbitrary: fc.constant('application/json') },
  {
    weight: 3,
    arbitrary: fc.constantFrom(
      undefined,
      'text/plain',
      'application/json; charset=utf-8',
      'application/json; charset=utf-16le',
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=xyz',
      'application/xml',
      '*/*',
      'application/json; charset=nonsense',
    ),
  },
);

/** Percent-encodes the UTF-8 bytes of `s` (a lone surrogate becomes U+FFFD) except unreserved characters. */
function pct(s: string): string {
  return [...Buffer.from(s, 'utf8')]
    .map((b) =>
      /[A-Za-z0-9\-._~]/.test(String.fromCharCode(b))
        ? String.fromCharCode(b)
        : `%${b.toString(16).toUpperCase().padStart(2, '0')}`,
    )
    .join('');
}

/** Percent-encoded bytes that are not UTF-8 at all. */
const rawBytes = fc
  .uint8Array({ minLength: 1, maxLength: 8 })
  .map((bytes) => [...bytes].map((b) => `%${b.toString(16).toUpperCase().padStart(2, '0')}`).join(''));

/** Odd path segments (already URL-encoded as sent): encoded slashes, dot segments, very long ids, unicode. */
const oddSegment = fc.oneof(
  fc.constantFrom(
    '..',
    '.',
    '%2E%2E',
    '%2F',
    'a%2Fb',
    '..%2F..%2Fetc%2Fpasswd',
    '%5C',
    '%00',
    '%25',
    '%zz',
    '%',
    '%20',
    'UPPER',
    '-a',
    'a-',
    'a--b',
    '0',
    '-1',
    '99999999999999999999',
    'NaN',
    '1e3',
    '~',
    'a;b',
    'a+b',
    '%F0%9F%A6%84',
    '%E2%80%AE',
    '%C0%AF',
    '__proto__',
    'constructor',
  ),
  fc.integer({ min: 64, max: 3000 }).map((n) => 'a'.repeat(n)),
  fc.string({ unit: 'grapheme', minLength: 1, maxLength: 20 }).map(pct),
  fc.string({ unit: 'binary', minLength: 1, maxLength: 10 }).map(pct),
  rawBytes,
);

const printable = fc.string({
  unit: fc.integer({ min: 0x20, max: 0x7e }).map((c) => String.fromCharCode(c)),
  maxLength: 60,
});

/** Query pairs (encoded as sent): known names with odd values and odd names. */
const queryPairs = (known: string[]) =>
  fc.array(
    fc.tuple(
      fc.oneof(
        fc.constantFrom(
          ...known,
          'limit',
          'continuation',
          'confirm',
          'force',
          'rotate',
          'reason',
          'code',
          'status',
        ),
        printable.map(pct),
      ),
      fc.oneof(oddStrings.map(pct), printable.map(pct), fc.constantFrom('%', '%zz', '&', '==', '')),
    ),
    { maxLength: 4 },
  );

/** Headers an attacker would send: forged signature and webhook headers, a forged principal. */
const garbageHeaders = fc.dictionary(
  fc.constantFrom(
    'x-fp-cluster',
    'x-fp-node',
    'x-fp-key-version',
    'x-fp-timestamp',
    'x-fp-seq',
    'x-fp-signature',
    'webhook-id',
    'webhook-timestamp',
    'webhook-signature',
    'x-ms-client-principal',
    'x-forwarded-host',
    'accept',
  ),
  fc.oneof(
    printable,
    fc.constantFrom('', 'v1,AAAA', '-1', '1e99', FUZZ_CLUSTER, 'head-a', '99999999999999999999'),
  ),
  { maxKeys: 4 },
);

/** A client principal as App Service Authentication sends it, as JSON (the base of the principal mutations). */
const PRINCIPAL = JSON.parse(
  Buffer.from(
    encodeClientPrincipal({ name: 'fuzz@example.test', objectId: 'fuzz-oid', roles: ['operator'] }),
    'base64',
  ).toString('utf8'),
) as Json;

/** `x-ms-client-principal` values: mutated principals (base64 of JSON), base64 of anything, not base64 at all. */
const principalHeader: fc.Arbitrary<FuzzAuth> = fc
  .oneof(
    {
      weight: 4,
      arbitrary: mutated(PRINCIPAL).map((p) => Buffer.from(JSON.stringify(p)).toString('base64')),
    },
    { weight: 1, arbitrary: fc.constant(Buffer.from(JSON.stringify(PRINCIPAL)).toString('base64')) },
    { weight: 1, arbitrary: oddValue.map((v) => Buffer.from(JSON.stringify(v)).toString('base64url')) },
    { weight: 1, arbitrary: printable },
  )
  .map((header): FuzzAuth => ({ kind: 'principal', header }));

function authArbitrary(access: string): fc.Arbitrary<FuzzAuth> {
  const none = fc.constant<FuzzAuth>({ kind: 'none' });
  const badKey = fc.constant<FuzzAuth>({ kind: 'badKey' });
  switch (access) {
    case 'public':
      return fc.oneof({ weight: 8, arbitrary: none }, { weight: 1, arbitrary: badKey });
    case 'agent':
      return fc.oneof(
        {
          weight: 8,
          arbitrary: fc
            .constantFrom(...FUZZ_NODES)
            .map((nodeId): FuzzAuth => ({ kind: 'agent', signed: true, clusterId: FUZZ_CLUSTER, nodeId })),
        },
        {
          weight: 1,
          arbitrary: fc.constantFrom<FuzzAuth>(
            { kind: 'agent', signed: true, clusterId: FUZZ_CLUSTER, nodeId: 'head-a', replay: true },
            { kind: 'agent', signed: true, clusterId: FUZZ_CLUSTER, nodeId: 'no-such-node' },
            { kind: 'agent', signed: true, clusterId: 'no-such-cluster', nodeId: 'head-a' },
            { kind: 'agent', signed: true, clusterId: FUZZ_CLUSTER, nodeId: 'head-b', skewMs: -600_000 },
            { kind: 'agent', signed: true, clusterId: FUZZ_CLUSTER, nodeId: 'head-b', skewMs: 600_000 },
          ),
        },
        {
          weight: 3,
          arbitrary: fc.constant<FuzzAuth>({
            kind: 'agent',
            signed: false,
            clusterId: FUZZ_CLUSTER,
            nodeId: 'head-a',
          }),
        },
      );
    case 'signed-webhook':
      return fc.oneof(
        { weight: 3, arbitrary: fc.constant<FuzzAuth>({ kind: 'webhook', signed: true }) },
        {
          weight: 1,
          arbitrary: fc.constantFrom<FuzzAuth>(
            { kind: 'webhook', signed: true, replayId: true },
            { kind: 'webhook', signed: true, skewMs: -600_000 },
            { kind: 'webhook', signed: true, skewMs: 600_000 },
          ),
        },
        { weight: 1, arbitrary: fc.constant<FuzzAuth>({ kind: 'webhook', signed: false }) },
        { weight: 1, arbitrary: fc.oneof(none, badKey) },
      );
    case 'webhook-principal':
      return fc.oneof(
        { weight: 6, arbitrary: fc.constant<FuzzAuth>({ kind: 'bearer', token: 'action-groups' }) },
        {
          weight: 1,
          arbitrary: fc.oneof(
            none,
            badKey,
            fc.constant<FuzzAuth>({ kind: 'functionKey' }),
            fc.constant<FuzzAuth>({ kind: 'bearer', token: 'garbage' }),
            fc.constant<FuzzAuth>({ kind: 'role', role: 'admin' }),
          ),
        },
        { weight: 1, arbitrary: principalHeader },
      );
    case 'host-function-key':
      return fc.oneof(
        { weight: 6, arbitrary: fc.constant<FuzzAuth>({ kind: 'functionKey' }) },
        { weight: 1, arbitrary: fc.oneof(none, badKey) },
      );
    default: {
      // An access kind this table does not know yet (a new route's): every identity, none favoured.
      if (!isRole(access))
        return fc.oneof(
          none,
          badKey,
          fc.constant<FuzzAuth>({ kind: 'functionKey' }),
          fc.constantFrom(...ROLES).map((role): FuzzAuth => ({ kind: 'role', role })),
        );
      const needed = access;
      const enough = ROLES.filter((r) => roleIncludes(r, needed));
      const weaker = ROLES.filter((r) => !roleIncludes(r, needed));
      return fc.oneof(
        {
          weight: 8,
          arbitrary: fc.constantFrom(...enough).map((role): FuzzAuth => ({ kind: 'role', role })),
        },
        {
          weight: 1,
          arbitrary: weaker.length
            ? fc.constantFrom(...weaker).map((role): FuzzAuth => ({ kind: 'role', role }))
            : none,
        },
        { weight: 1, arbitrary: fc.oneof(none, badKey) },
        { weight: 2, arbitrary: principalHeader },
      );
    }
  }
}

/** A path built from the route's template: each parameter valid (mostly) or odd. */
function pathArbitrary(name: RouteName, spec: FuzzRouteSpec): fc.Arbitrary<string> {
  const template = routes[name];
  const params = [...template.matchAll(/\{\*?(\w+)\}/g)].map((m) => m[1] as string);
  const values = params.map((p) => {
    const valid = spec.params[p] ?? ['x'];
    const segment = fc.oneof(
      { weight: 6, arbitrary: fc.constantFrom(...valid) },
      { weight: 3, arbitrary: oddSegment },
    );
    // A catch-all parameter takes several segments.
    return template.includes(`{*${p}}`)
      ? fc.array(segment, { minLength: 1, maxLength: 4 }).map((s) => s.join('/'))
      : segment;
  });
  return fc.tuple(...values).map((vs) => {
    let i = 0;
    return `/${ROUTE_PREFIX}/${template.replace(/\{\*?(\w+)\}/g, () => vs[i++] as string)}`;
  });
}

function queryArbitrary(spec: FuzzRouteSpec): fc.Arbitrary<string> {
  const known = Object.keys(spec.query ?? {});
  const valid = Object.entries(spec.query ?? {}).map(([k, v]) => `${k}=${encodeURIComponent(v)}`);
  const odd = fc.tuple(fc.subarray(valid), queryPairs(known), fc.constantFrom('', '', '', '&', '&&=', '?'));
  return fc
    .oneof(
      { weight: 1, arbitrary: fc.constant<[string[], [string, string][], string]>([valid, [], '']) },
      { weight: 1, arbitrary: odd },
    )
    .map(([kept, extra, tail]) => {
      const pairs = [...kept, ...extra.map(([k, v]) => `${k}=${v}`)];
      return pairs.length || tail ? `?${pairs.join('&')}${tail}` : '';
    });
}

/** Generated requests for `<route> <method>`: odd paths, queries, methods, identities, headers and bodies. */
export function requestArbitrary(route: string, spec: FuzzRouteSpec): fc.Arbitrary<FuzzRequest> {
  const [name, method] = route.split(' ') as [RouteName, string];
  const served = methodsOf(ROUTE_ACCESS, name);
  const wrong = METHODS.filter((m) => !served.includes(m));
  const methodArb = wrong.length
    ? fc.oneof(
        { weight: 12, arbitrary: fc.constant(method) },
        { weight: 1, arbitrary: fc.constantFrom(...wrong) },
      )
    : fc.constant(method);
  const hasBody = spec.body !== undefined || method !== 'GET';
  return fc
    .record({
      method: methodArb,
      path: pathArbitrary(name, spec),
      query: queryArbitrary(spec),
      auth: authArbitrary(spec.access),
      headers: fc.oneof({ weight: 4, arbitrary: fc.constant({}) }, { weight: 1, arbitrary: garbageHeaders }),
      contentType,
      body: hasBody
        ? bodyText(spec.body as Json | undefined)
        : fc.option(bodyText(undefined), { freq: 8 }).map((b) => b ?? undefined),
    })
    .map(({ method: m, path, query, auth, headers, contentType: ct, body }) => ({
      route,
      method: m,
      path: `${path}${query}`,
      headers,
      ...(ct !== undefined && body !== undefined ? { contentType: ct } : {}),
      ...(body !== undefined && m !== 'GET' ? { body } : {}),
      auth,
    }));
}
