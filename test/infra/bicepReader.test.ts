import {
  BicepSyntaxError,
  bodyOf,
  callArguments,
  conditionOf,
  isLoop,
  objectVar,
  property,
  readBicep,
  textOf,
  tokenize,
} from './bicepReader';

const SAMPLE = `
// a comment with 'quotes' and { brackets
targetScope = 'subscription'
/* a block comment
   resource fake 'Not.Real/things@2020-01-01' = {
*/
@minLength(1)
@description('the \\'name\\' { not a bracket')
param name string
@secure()
param secret string = ''
param list string[] = []
param nullable string?
var text = '''
multi-line } ' with quotes
'''
var interp = '\${name}-\${toLower('A}B')}-{literal}'
var settings = enabled ? {
  A_SETTING: 'x'
  'quoted-key': 'y'
} : {}
resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: name
  location: 'westus'
}
resource stg 'Microsoft.Storage/storageAccounts@2023-05-01' = if (name != 'x') {
  name: 'st\${name}'
  properties: {
    roleDefinitionId: roles['Reader']
  }
  resource blob 'blobServices' = {
    name: 'default'
    resource c 'containers' = [for n in list: {
      name: n
    }]
  }
}
module m './app/m.bicep' = [for x in list: {
  name: 'm-\${x}'
  params: {
    a: union(settings, { B: 1 }, text)
  }
}]
output out string = '\${rg.name}'
`;

describe('tokenize', () => {
  it('reads strings with escapes and interpolations (braces and quotes inside) as one token each', () => {
    const strings = tokenize("var a = 'it\\'s ${f('}')} {x}'").filter((t) => t.kind === 'string');
    expect(strings).toHaveLength(1);
    expect(strings[0]!.interpolated).toBe(true);
    expect(tokenize("var a = 'it\\'s'").find((t) => t.kind === 'string')?.value).toBe("it's");
  });

  it('skips comments, including brackets and quotes inside them', () => {
    const tokens = tokenize("// it's {\n/* ( ' */ var a = 1");
    expect(tokens.filter((t) => t.kind !== 'newline').map((t) => t.text)).toEqual(['var', 'a', '=', '1']);
  });

  it('reads multi-line strings verbatim', () => {
    const token = tokenize("var a = '''\nx } ' ${y}\n'''").find((t) => t.kind === 'string');
    expect(token?.value).toBe("x } ' ${y}\n");
  });

  it.each([
    ['var a = {', '{ is never closed'],
    ['var a = (]', 'unbalanced ]'],
    ['var a = }', 'unbalanced }'],
    ["var a = 'open", 'unterminated string'],
    ["var a = 'x\ny'", 'newline in a single-line string'],
    ['/* never closed', 'unterminated block comment'],
    ["var a = '\\q'", 'bad escape'],
    ['var a = #', 'unexpected character #'],
  ])('rejects %j (%s)', (src, problem) => {
    expect(() => tokenize(src, 'f.bicep')).toThrow(BicepSyntaxError);
    expect(() => tokenize(src, 'f.bicep')).toThrow(problem);
  });
});

describe('readBicep', () => {
  const file = readBicep(SAMPLE, 'sample.bicep');

  it('lists params with their defaults, decorators and @secure', () => {
    expect(file.targetScope).toBe('subscription');
    expect(file.params.map((p) => [p.name, p.type, p.hasDefault, p.secure])).toEqual([
      ['name', 'string', false, false],
      ['secret', 'string', true, true],
      ['list', 'string', true, false],
      ['nullable', 'string', true, false],
    ]);
    expect(file.params[0]!.decorators.map((d) => d.name)).toEqual(['minLength', 'description']);
  });

  it('lists resources (nested ones too) with type and API version, and modules with their paths', () => {
    expect(file.resources.map((r) => [r.name, r.type, r.apiVersion, r.nested])).toEqual([
      ['rg', 'Microsoft.Resources/resourceGroups', '2021-04-01', false],
      ['stg', 'Microsoft.Storage/storageAccounts', '2023-05-01', false],
      ['blob', 'blobServices', undefined, true],
      ['c', 'containers', undefined, true],
    ]);
    expect(file.modules.map((m) => [m.name, m.path, isLoop(m)])).toEqual([['m', './app/m.bicep', true]]);
    expect(file.outputs.map((o) => o.name)).toEqual(['out']);
    expect(file.vars.map((v) => v.name)).toEqual(['text', 'interp', 'settings']);
  });

  it('reads conditions, bodies, properties, conditional object vars and call arguments', () => {
    const stg = file.resources[1]!;
    expect(conditionOf(stg)).toBe("name != 'x'");
    expect(conditionOf(file.resources[0]!)).toBeUndefined();
    expect(textOf(property(bodyOf(stg), 'properties', 'roleDefinitionId') ?? [])).toBe("roles [ 'Reader' ]");
    const settings = objectVar(file.vars[2]!);
    expect(settings.condition).toBe('enabled');
    expect(settings.keys.map((k) => k.key)).toEqual(['A_SETTING', 'quoted-key']);
    const m = file.modules[0]!;
    expect(callArguments(property(bodyOf(m), 'params', 'a') ?? [], 'union')).toEqual([
      'settings',
      '{ B : 1 }',
      'text',
    ]);
  });

  it('rejects what it cannot read, naming the file and line', () => {
    expect(() => readBicep('param', 'x.bicep')).toThrow('x.bicep:1: expected a param name');
    expect(() => readBicep("resource r 'T@1' {\n}", 'x.bicep')).toThrow('expected = in resource r');
    expect(() => readBicep('output o string', 'x.bicep')).toThrow('output o has no value');
    expect(() => readBicep('something = 1', 'x.bicep')).toThrow('unexpected "something" at the top level');
  });
});
