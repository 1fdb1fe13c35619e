/**
 * A structural reader of Bicep files, for the offline checks of infra/. It is not a compiler: no type checking, no
 * expression evaluation. It tokenizes exactly (strings with `${…}` interpolation and escapes, `'''` multi-line
 * strings, line and block comments, brackets), checks that brackets balance, and lists the top-level declarations
 * (targetScope, extension, param, var, resource, module, output, with their decorators) and every resource
 * (nested ones too) with its `type@apiVersion`.
 *
 * Why not a maintained parser: Bicep's only parser is the .NET compiler (the Bicep CLI / language server); the npm
 * wrappers (`bicep-node`) download that binary from GitHub at run time, which cannot work on these offline machines.
 */

export type TokenKind = 'ident' | 'string' | 'number' | 'punct' | 'newline';

export interface Token {
  readonly kind: TokenKind;
  /** Identifiers, numbers and punctuation: their text. Strings: the literal source (quotes included). */
  readonly text: string;
  /** Strings without interpolation: their value. */
  readonly value?: string;
  /** Strings: true when they contain `${…}`. */
  readonly interpolated?: boolean;
  readonly line: number;
  readonly depth: number;
}

export class BicepSyntaxError extends Error {
  override readonly name = 'BicepSyntaxError';
  constructor(
    readonly file: string,
    readonly line: number,
    problem: string,
  ) {
    super(`${file}:${line}: ${problem}`);
  }
}

/** `tokens[i]`, which must exist. */
function tokenAt(tokens: readonly Token[], i: number): Token {
  const t = tokens[i];
  if (!t) throw new Error(`internal: no token ${i}`);
  return t;
}

const PUNCT = ['==', '!=', '<=', '>=', '&&', '||', '??', '?.', '.?', '=~', '!~', '=>', '::'];
const OPEN: Record<string, string> = { '{': '}', '[': ']', '(': ')' };
const CLOSE = new Set(Object.values(OPEN));

/** Reads a `'…'` string starting at `start` (the opening quote); returns the index after it. */
function scanString(
  src: string,
  start: number,
  file: string,
  line: () => number,
): { end: number; value: string; interpolated: boolean } {
  let i = start + 1;
  let value = '';
  let interpolated = false;
  while (i < src.length) {
    const c = src.charAt(i);
    if (c === '\\') {
      const next = src.charAt(i + 1);
      const escapes: Record<string, string> = { n: '\n', r: '\r', t: '\t', '\\': '\\', "'": "'", $: '$' };
      if (next === 'u' && src.charAt(i + 2) === '{') {
        const close = src.indexOf('}', i + 3);
        if (close < 0) throw new BicepSyntaxError(file, line(), 'unterminated \\u{…} escape');
        value += String.fromCodePoint(parseInt(src.slice(i + 3, close), 16));
        i = close + 1;
        continue;
      }
      if (next === undefined || !(next in escapes))
        throw new BicepSyntaxError(file, line(), `bad escape \\${next ?? ''}`);
      value += escapes[next];
      i += 2;
      continue;
    }
    if (c === '\n') throw new BicepSyntaxError(file, line(), 'newline in a single-line string');
    if (c === "'") return { end: i + 1, value, interpolated };
    if (c === '$' && src.charAt(i + 1) === '{') {
      interpolated = true;
      i = scanInterpolation(src, i + 2, file, line);
      continue;
    }
    value += c;
    i++;
  }
  throw new BicepSyntaxError(file, line(), 'unterminated string');
}

/** Skips an interpolation's expression (after `${`) up to its matching `}`: nested braces and strings included. */
function scanInterpolation(src: string, start: number, file: string, line: () => number): number {
  let depth = 0;
  let i = start;
  while (i < src.length) {
    const c = src.charAt(i);
    if (c === "'") {
      i = scanString(src, i, file, line).end;
      continue;
    }
    if (c === '{') depth++;
    if (c === '}') {
      if (depth === 0) return i + 1;
      depth--;
    }
    if (c === '\n') throw new BicepSyntaxError(file, line(), 'newline in a string interpolation');
    i++;
  }
  throw new BicepSyntaxError(file, line(), 'unterminated interpolation');
}

/** Tokens of a Bicep source; throws BicepSyntaxError on bad strings, comments or unbalanced brackets. */
export function tokenize(src: string, file = '<bicep>'): Token[] {
  const tokens: Token[] = [];
  const stack: { char: string; line: number }[] = [];
  let line = 1;
  const lineAt = () => line;
  let i = 0;
  const push = (kind: TokenKind, text: string, extra: Partial<Token> = {}) =>
    tokens.push({ kind, text, line, depth: stack.length, ...extra });
  while (i < src.length) {
    const c = src.charAt(i);
    if (c === '\n') {
      push('newline', '\n');
      line++;
      i++;
    } else if (c === ' ' || c === '\t' || c === '\r') i++;
    else if (c === '/' && src.charAt(i + 1) === '/') {
      while (i < src.length && src.charAt(i) !== '\n') i++;
    } else if (c === '/' && src.charAt(i + 1) === '*') {
      const end = src.indexOf('*/', i + 2);
      if (end < 0) throw new BicepSyntaxError(file, line, 'unterminated block comment');
      line += (src.slice(i, end).match(/\n/g) ?? []).length;
      i = end + 2;
    } else if (src.startsWith("'''", i)) {
      const end = src.indexOf("'''", i + 3);
      if (end < 0) throw new BicepSyntaxError(file, line, "unterminated ''' string");
      const value = src.slice(i + 3, end).replace(/^\r?\n/, '');
      push('string', src.slice(i, end + 3), { value, interpolated: false });
      line += (src.slice(i, end).match(/\n/g) ?? []).length;
      i = end + 3;
    } else if (c === "'") {
      const { end, value, interpolated } = scanString(src, i, file, lineAt);
      push('string', src.slice(i, end), interpolated ? { interpolated } : { value, interpolated });
      i = end;
    } else if (/[A-Za-z_]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[A-Za-z0-9_]/.test(src.charAt(j))) j++;
      push('ident', src.slice(i, j));
      i = j;
    } else if (/[0-9]/.test(c)) {
      let j = i + 1;
      while (j < src.length && /[0-9.]/.test(src.charAt(j))) j++;
      push('number', src.slice(i, j));
      i = j;
    } else if (c in OPEN) {
      push('punct', c);
      stack.push({ char: c, line });
      i++;
    } else if (CLOSE.has(c)) {
      const open = stack.pop();
      if (!open || OPEN[open.char] !== c)
        throw new BicepSyntaxError(
          file,
          line,
          `unbalanced ${c}${open ? ` (opened ${open.char} on line ${open.line})` : ''}`,
        );
      push('punct', c);
      i++;
    } else {
      const two = src.slice(i, i + 2);
      const text = PUNCT.includes(two) ? two : c;
      if (!/^[-+*/%!<>=?:.,@|&~]+$/.test(text))
        throw new BicepSyntaxError(file, line, `unexpected character ${c}`);
      push('punct', text);
      i += text.length;
    }
  }
  const open = stack[stack.length - 1];
  if (open) {
    throw new BicepSyntaxError(file, open.line, `${open.char} is never closed`);
  }
  return tokens;
}

export interface Decorator {
  readonly name: string;
  readonly tokens: readonly Token[];
}

interface DeclarationBase {
  readonly name: string;
  readonly line: number;
  readonly decorators: readonly Decorator[];
  /** The tokens after `=` (or after the type, for a param/output without a value). */
  readonly value: readonly Token[];
}
export interface ParamDecl extends DeclarationBase {
  readonly kind: 'param';
  readonly type: string;
  /** True when the param has a default value or is nullable (`string?`), so it need not be passed. */
  readonly hasDefault: boolean;
  readonly secure: boolean;
}
export interface OutputDecl extends DeclarationBase {
  readonly kind: 'output';
  readonly type: string;
}
export interface VarDecl extends DeclarationBase {
  readonly kind: 'var';
}
export interface ResourceDecl extends DeclarationBase {
  readonly kind: 'resource';
  /** As written: `Microsoft.Web/sites@2024-04-01`, or a nested resource's relative `blobServices`. */
  readonly typeRef: string;
  readonly type: string;
  readonly apiVersion?: string;
  readonly existing: boolean;
  /** Nested inside another resource's body. */
  readonly nested: boolean;
}
export interface ModuleDecl extends DeclarationBase {
  readonly kind: 'module';
  readonly path: string;
}
export type Declaration = ParamDecl | OutputDecl | VarDecl | ResourceDecl | ModuleDecl;

export interface BicepFile {
  readonly file: string;
  readonly tokens: readonly Token[];
  readonly targetScope: string;
  readonly extensions: readonly string[];
  readonly params: readonly ParamDecl[];
  readonly vars: readonly VarDecl[];
  readonly resources: readonly ResourceDecl[];
  readonly modules: readonly ModuleDecl[];
  readonly outputs: readonly OutputDecl[];
}

/** The tokens of the declaration value starting at `start`: up to the newline that ends it at the same depth. */
function valueTokens(tokens: readonly Token[], start: number): { value: Token[]; end: number } {
  const depth = tokens[start]?.depth ?? 0;
  let i = start;
  while (i < tokens.length) {
    const t = tokenAt(tokens, i);
    if (t.kind === 'newline' && t.depth === depth) break;
    i++;
  }
  return { value: tokens.slice(start, i).filter((t) => t.kind !== 'newline' || t.depth > depth), end: i };
}

const expectKind = (
  file: string,
  t: Token | undefined,
  kind: TokenKind,
  what: string,
  line: number,
): Token => {
  if (!t || t.kind !== kind) throw new BicepSyntaxError(file, t?.line ?? line, `expected ${what}`);
  return t;
};

/** Reads a Bicep source structurally; throws BicepSyntaxError when it cannot. */
export function readBicep(src: string, file = '<bicep>'): BicepFile {
  const tokens = tokenize(src, file);
  let targetScope = 'resourceGroup';
  const extensions: string[] = [];
  const params: ParamDecl[] = [];
  const vars: VarDecl[] = [];
  const resources: ResourceDecl[] = [];
  const modules: ModuleDecl[] = [];
  const outputs: OutputDecl[] = [];
  let decorators: Decorator[] = [];
  let i = 0;
  while (i < tokens.length) {
    const t = tokenAt(tokens, i);
    if (t.kind === 'newline') {
      i++;
      continue;
    }
    if (t.depth !== 0) throw new BicepSyntaxError(file, t.line, 'internal: lost track of depth');
    if (t.text === '@') {
      const name = expectKind(file, tokens[i + 1], 'ident', 'a decorator name', t.line);
      const { value, end } = valueTokens(tokens, i + 2);
      decorators.push({ name: name.text, tokens: value });
      i = end;
      continue;
    }
    const keyword = t.text;
    const line = t.line;
    if (keyword === 'targetScope') {
      const scope = tokens[i + 2];
      if (tokens[i + 1]?.text !== '=' || scope?.kind !== 'string' || scope.value === undefined)
        throw new BicepSyntaxError(file, line, "expected targetScope = '<scope>'");
      targetScope = scope.value;
      i = valueTokens(tokens, i + 2).end;
    } else if (keyword === 'extension' || keyword === 'import') {
      const { value, end } = valueTokens(tokens, i + 1);
      if (keyword === 'extension') extensions.push(value.map((v) => v.value ?? v.text).join(' '));
      i = end;
    } else if (keyword === 'param' || keyword === 'output') {
      const name = expectKind(file, tokens[i + 1], 'ident', `a ${keyword} name`, line).text;
      const type = tokens[i + 2];
      if (!type || (type.kind !== 'ident' && type.kind !== 'string'))
        throw new BicepSyntaxError(file, line, `expected the type of ${keyword} ${name}`);
      let j = i + 3;
      // Array types (`string[]`) and nullable types (`string?`).
      while (tokens[j]?.text === '[' && tokens[j + 1]?.text === ']') j += 2;
      const nullable = tokens[j]?.text === '?';
      if (nullable) j++;
      const hasValue = tokens[j]?.text === '=';
      if (keyword === 'output' && !hasValue)
        throw new BicepSyntaxError(file, line, `output ${name} has no value`);
      const { value, end } = hasValue ? valueTokens(tokens, j + 1) : { value: [], end: j };
      const base = { name, line, decorators, value, type: type.text };
      if (keyword === 'param')
        params.push({
          ...base,
          kind: 'param',
          hasDefault: hasValue || nullable,
          secure: decorators.some((d) => d.name === 'secure'),
        });
      else outputs.push({ ...base, kind: 'output' });
      decorators = [];
      i = end;
    } else if (keyword === 'var') {
      const name = expectKind(file, tokens[i + 1], 'ident', 'a var name', line).text;
      if (tokens[i + 2]?.text !== '=') throw new BicepSyntaxError(file, line, `expected = after var ${name}`);
      const { value, end } = valueTokens(tokens, i + 3);
      vars.push({ kind: 'var', name, line, decorators, value });
      decorators = [];
      i = end;
    } else if (keyword === 'resource' || keyword === 'module') {
      const name = expectKind(file, tokens[i + 1], 'ident', `a ${keyword} symbol`, line).text;
      const ref = expectKind(
        file,
        tokens[i + 2],
        'string',
        `the ${keyword}'s ${keyword === 'module' ? 'path' : 'type'}`,
        line,
      );
      if (ref.value === undefined)
        throw new BicepSyntaxError(file, line, `the ${keyword} ${name}'s reference is interpolated`);
      let j = i + 3;
      const existing = tokens[j]?.text === 'existing';
      if (existing) j++;
      if (tokens[j]?.text !== '=') throw new BicepSyntaxError(file, line, `expected = in ${keyword} ${name}`);
      const { value, end } = valueTokens(tokens, j + 1);
      if (keyword === 'module')
        modules.push({ kind: 'module', name, line, decorators, value, path: ref.value });
      else {
        resources.push(resourceDecl(name, line, decorators, value, ref.value, existing, false));
        resources.push(...nestedResources(file, value));
      }
      decorators = [];
      i = end;
    } else if (keyword === 'metadata' || keyword === 'type' || keyword === 'func') {
      i = valueTokens(tokens, i + 1).end;
      decorators = [];
    } else {
      throw new BicepSyntaxError(file, line, `unexpected ${JSON.stringify(keyword)} at the top level`);
    }
  }
  return { file, tokens, targetScope, extensions, params, vars, resources, modules, outputs };
}

function resourceDecl(
  name: string,
  line: number,
  decorators: readonly Decorator[],
  value: readonly Token[],
  typeRef: string,
  existing: boolean,
  nested: boolean,
): ResourceDecl {
  const at = typeRef.indexOf('@');
  return {
    kind: 'resource',
    name,
    line,
    decorators,
    value,
    typeRef,
    type: at < 0 ? typeRef : typeRef.slice(0, at),
    ...(at < 0 ? {} : { apiVersion: typeRef.slice(at + 1) }),
    existing,
    nested,
  };
}

/** Resources declared inside a resource body (`resource child 'blobServices' = …`), at any depth. */
function nestedResources(file: string, body: readonly Token[]): ResourceDecl[] {
  const found: ResourceDecl[] = [];
  for (let i = 0; i < body.length; i++) {
    const t = tokenAt(body, i);
    const previous = body[i - 1];
    if (t.kind !== 'ident' || t.text !== 'resource' || (previous && previous.kind !== 'newline')) continue;
    const name = expectKind(file, body[i + 1], 'ident', 'a nested resource symbol', t.line).text;
    const ref = expectKind(file, body[i + 2], 'string', 'a nested resource type', t.line);
    let j = i + 3;
    const existing = body[j]?.text === 'existing';
    if (existing) j++;
    const { value } = valueTokens(body, j + 1);
    found.push(resourceDecl(name, t.line, [], value, ref.value ?? ref.text, existing, true));
  }
  return found;
}

/** The index of the bracket closing the one at `open` in `tokens`. */
function closing(tokens: readonly Token[], open: number): number {
  const depth = tokenAt(tokens, open).depth;
  for (let i = open + 1; i < tokens.length; i++)
    if (tokenAt(tokens, i).depth === depth && CLOSE.has(tokenAt(tokens, i).text)) return i;
  throw new Error('unbalanced tokens');
}

export interface ObjectProperty {
  readonly key: string;
  readonly value: readonly Token[];
}

/**
 * The properties of the first object literal in `tokens` (`{ key: value … }`, one property per line as Bicep
 * requires). Keys are identifiers or plain strings.
 */
export function objectProperties(tokens: readonly Token[]): ObjectProperty[] {
  const open = tokens.findIndex((t) => t.text === '{');
  if (open < 0) return [];
  const end = closing(tokens, open);
  const inner = tokenAt(tokens, open).depth + 1;
  const props: ObjectProperty[] = [];
  let i = open + 1;
  while (i < end) {
    const t = tokenAt(tokens, i);
    if (t.kind === 'newline' || t.text === ',') {
      i++;
      continue;
    }
    if (t.text === 'resource' && t.kind === 'ident' && tokens[i + 1]?.kind === 'ident') {
      // A nested resource declaration, not a property: skip it.
      while (i < end && !(tokenAt(tokens, i).depth === inner && tokenAt(tokens, i).kind === 'newline')) i++;
      continue;
    }
    if (t.depth !== inner || tokens[i + 1]?.text !== ':' || (t.kind !== 'ident' && t.kind !== 'string'))
      throw new Error(`line ${t.line}: expected a property name`);
    // An interpolated key (`'${identityId}': {}`) is kept as written.
    const key = t.kind === 'ident' ? t.text : (t.value ?? t.text);
    let j = i + 2;
    while (
      j < end &&
      !(
        tokenAt(tokens, j).depth === inner &&
        (tokenAt(tokens, j).kind === 'newline' || tokenAt(tokens, j).text === ',')
      )
    )
      j++;
    props.push({ key, value: tokens.slice(i + 2, j) });
    i = j;
  }
  return props;
}

/** One property of an object literal by key path (`['properties', 'roleDefinitionId']`). */
export function property(tokens: readonly Token[], ...path: string[]): readonly Token[] | undefined {
  let current: readonly Token[] = tokens;
  for (const key of path) {
    const found = objectProperties(current).find((p) => p.key === key);
    if (!found) return undefined;
    current = found.value;
  }
  return current;
}

/** Source-like text of tokens (for messages and simple comparisons). */
export const textOf = (tokens: readonly Token[]): string =>
  tokens
    .filter((t) => t.kind !== 'newline')
    .map((t) => t.text)
    .join(' ');

/** A resource or module's condition: the expression of `if (…)` before its body, if any. */
export function conditionOf(decl: ResourceDecl | ModuleDecl): string | undefined {
  const first = decl.value[0];
  if (first?.text !== 'if' || decl.value[1]?.text !== '(') return undefined;
  return textOf(decl.value.slice(2, closing(decl.value, 1)));
}

/** The body of a resource/module: its object literal (inside `[for …: { … }]` and after `if (…)` too). */
export function bodyOf(decl: ResourceDecl | ModuleDecl): readonly Token[] {
  let start = 0;
  if (decl.value[0]?.text === 'if') start = closing(decl.value, 1) + 1;
  const open = decl.value.findIndex((t, index) => index >= start && t.text === '{');
  return open < 0 ? [] : decl.value.slice(open, closing(decl.value, open) + 1);
}

/** A `[for x in <collection>: …]` loop's collection expression (text), or undefined when it is not a loop. */
export function loopOf(decl: ResourceDecl | ModuleDecl): string | undefined {
  const t = decl.value.filter((x) => x.kind !== 'newline');
  if (t[0]?.text !== '[' || t[1]?.text !== 'for') return undefined;
  const inAt = t.findIndex((x) => x.text === 'in');
  const colon = t.findIndex((x, i) => i > inAt && x.text === ':' && x.depth === tokenAt(t, 0).depth + 1);
  return textOf(t.slice(inAt + 1, colon));
}

/** True for a `[for …]` loop. */
export const isLoop = (decl: ResourceDecl | ModuleDecl): boolean => loopOf(decl) !== undefined;

/**
 * The keys of a var holding an object, and whether they are conditional: `{…}` (always) or
 * `<condition> ? {…} : {}` (only when the condition holds).
 */
export function objectVar(decl: VarDecl): { keys: ObjectProperty[]; condition?: string } {
  const question = decl.value.findIndex((t) => t.text === '?' && t.depth === decl.value[0]?.depth);
  const firstBrace = decl.value.findIndex((t) => t.text === '{');
  if (question >= 0 && question < firstBrace) {
    return {
      keys: objectProperties(decl.value.slice(question + 1)),
      condition: textOf(decl.value.slice(0, question)),
    };
  }
  return { keys: objectProperties(decl.value) };
}

/** Names passed in a function call's arguments at the top level: `union(a, b, c)` → ['a', 'b', 'c']. */
export function callArguments(tokens: readonly Token[], fn: string): string[] {
  const at = tokens.findIndex((t, i) => t.text === fn && tokens[i + 1]?.text === '(');
  if (at < 0) return [];
  const end = closing(tokens, at + 1);
  const depth = tokenAt(tokens, at + 1).depth + 1;
  const args: string[] = [];
  let current: Token[] = [];
  for (const t of tokens.slice(at + 2, end)) {
    if (t.kind === 'newline') continue;
    if (t.depth === depth && t.text === ',') {
      args.push(textOf(current));
      current = [];
    } else current.push(t);
  }
  if (current.length > 0) args.push(textOf(current));
  return args;
}
