/** A compiled Functions route template: `items/{id}`, `items/{id?}`, `items/{id:int}`, `files/{*path}`. */
export interface CompiledRoute {
  template: string;
  match(path: string): Record<string, string> | undefined;
}

const CONSTRAINTS: Record<string, RegExp> = {
  int: /^-?\d+$/,
  long: /^-?\d+$/,
  bool: /^(true|false)$/i,
  guid: /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i,
  alpha: /^[a-z]+$/i,
  double: /^-?\d+(\.\d+)?$/,
  float: /^-?\d+(\.\d+)?$/,
  decimal: /^-?\d+(\.\d+)?$/,
  datetime: /^\d{4}-\d{2}-\d{2}/,
};

const escapeRegex = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Compiles an ASP.NET-style route template as the Functions host accepts it (case-insensitive literals). */
export function compileRoute(template: string): CompiledRoute {
  const segments = template
    .replace(/^\/+|\/+$/g, '')
    .split('/')
    .filter((s) => s.length > 0);
  const checks: { name: string; constraint?: RegExp }[] = [];
  let pattern = '^';
  for (const segment of segments) {
    const param = /^\{(\*)?([A-Za-z_][A-Za-z0-9_]*)(?::([a-z]+)(?:\([^)]*\))?)?(\?)?\}$/.exec(segment);
    if (!param) {
      if (segment.includes('{')) throw new Error(`Unsupported route segment "${segment}" in "${template}"`);
      pattern += `/${escapeRegex(segment)}`;
      continue;
    }
    const [, catchAll, name = '', constraintName, optional] = param;
    const constraint = constraintName ? CONSTRAINTS[constraintName] : undefined;
    if (constraintName && !constraint)
      throw new Error(`Unknown route constraint "${constraintName}" in "${template}"`);
    checks.push({ name, ...(constraint ? { constraint } : {}) });
    const capture = catchAll ? `(?<${name}>.*)` : `(?<${name}>[^/]+)`;
    pattern += optional || catchAll ? `(?:/${capture})?` : `/${capture}`;
  }
  const regex = new RegExp(`${pattern}/?$`, 'i');
  return {
    template,
    match(path: string) {
      const m = regex.exec(path.startsWith('/') || path === '' ? path : `/${path}`);
      if (!m) return undefined;
      const params: Record<string, string> = {};
      for (const { name, constraint } of checks) {
        const raw = m.groups?.[name];
        if (raw === undefined) continue;
        let value: string;
        try {
          value = decodeURIComponent(raw);
        } catch {
          return undefined; // malformed percent-encoding: no route matches (404), not a host failure (500)
        }
        if (constraint && !constraint.test(value)) return undefined;
        params[name] = value;
      }
      return params;
    },
  };
}
