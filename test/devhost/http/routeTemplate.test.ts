import { compileRoute } from '../../../devhost/http/routeTemplate';

describe('compileRoute', () => {
  it('matches a literal template exactly and nothing else', () => {
    const route = compileRoute('api/health');
    expect(route.template).toBe('api/health');
    expect(route.match('/api/health')).toEqual({});
    expect(route.match('api/health')).toEqual({});
    expect(route.match('/api/healthz')).toBeUndefined();
    expect(route.match('/api/health/extra')).toBeUndefined();
    expect(route.match('/api')).toBeUndefined();
  });

  it('captures a {param} segment and requires it', () => {
    const route = compileRoute('api/items/{id}');
    expect(route.match('/api/items/42')).toEqual({ id: '42' });
    expect(route.match('/api/items/blue-box')).toEqual({ id: 'blue-box' });
    expect(route.match('/api/items')).toBeUndefined();
    expect(route.match('/api/items/1/2')).toBeUndefined();
  });

  it('captures several parameters', () => {
    const route = compileRoute('api/regions/{region}/clusters/{cluster}');
    expect(route.match('/api/regions/eu/clusters/gpu-1')).toEqual({ region: 'eu', cluster: 'gpu-1' });
    expect(route.match('/api/regions/eu/clusters')).toBeUndefined();
  });

  it('makes an optional {param?} segment match when present and when absent', () => {
    const route = compileRoute('api/things/{name?}');
    expect(route.match('/api/things/box')).toEqual({ name: 'box' });
    const absent = route.match('/api/things');
    expect(absent).toEqual({});
    expect(absent).not.toHaveProperty('name');
    expect(route.match('/api/things/box/lid')).toBeUndefined();
  });

  it('enforces an {id:int} constraint, rejecting non-integers', () => {
    const route = compileRoute('api/items/{id:int}');
    expect(route.match('/api/items/17')).toEqual({ id: '17' });
    expect(route.match('/api/items/-3')).toEqual({ id: '-3' });
    expect(route.match('/api/items/abc')).toBeUndefined();
    expect(route.match('/api/items/1.5')).toBeUndefined();
    expect(route.match('/api/items/12abc')).toBeUndefined();
  });

  it('supports an optional constrained parameter {id:int?}', () => {
    const route = compileRoute('api/pages/{page:int?}');
    expect(route.match('/api/pages/3')).toEqual({ page: '3' });
    expect(route.match('/api/pages')).toEqual({});
    expect(route.match('/api/pages/three')).toBeUndefined();
  });

  it('captures the rest of the path, slashes included, with a catch-all {*path}', () => {
    const route = compileRoute('api/files/{*path}');
    expect(route.match('/api/files/a/b/c.txt')).toEqual({ path: 'a/b/c.txt' });
    expect(route.match('/api/files/readme.md')).toEqual({ path: 'readme.md' });
    expect(route.match('/api/files')).toEqual({});
    expect(route.match('/api/filesystem/x')).toBeUndefined();
  });

  it('matches literal segments case-insensitively but keeps the case of parameter values', () => {
    const route = compileRoute('api/Items/{id}');
    expect(route.match('/API/items/AbC')).toEqual({ id: 'AbC' });
    expect(route.match('/api/ITEMS/xyz')).toEqual({ id: 'xyz' });
  });

  it('URL-decodes parameter values', () => {
    const route = compileRoute('api/items/{name}');
    expect(route.match('/api/items/hello%20world')).toEqual({ name: 'hello world' });
    expect(route.match('/api/items/caf%C3%A9')).toEqual({ name: 'café' });
    expect(route.match('/api/items/a%2Fb')).toEqual({ name: 'a/b' });
    expect(compileRoute('api/files/{*path}').match('/api/files/my%20dir/a%2Bb.txt')).toEqual({
      path: 'my dir/a+b.txt',
    });
  });

  it('treats a malformed percent-encoding as no match rather than throwing', () => {
    const route = compileRoute('api/items/{name}');
    expect(() => route.match('/api/items/%ZZ')).not.toThrow();
    expect(route.match('/api/items/%ZZ')).toBeUndefined();
  });

  it('accepts a trailing slash on the path, and ignores slashes around the template', () => {
    expect(compileRoute('api/items/{id}').match('/api/items/7/')).toEqual({ id: '7' });
    expect(compileRoute('api/health').match('/api/health/')).toEqual({});
    expect(compileRoute('/api/health/').match('/api/health')).toEqual({});
    expect(compileRoute('api/things/{name?}').match('/api/things/')).toEqual({});
  });

  it('matches only the root for an empty template', () => {
    const route = compileRoute('');
    expect(route.match('/')).toEqual({});
    expect(route.match('')).toEqual({});
    expect(route.match('/anything')).toBeUndefined();
  });

  it('rejects unknown constraints and unsupported segments when compiling', () => {
    expect(() => compileRoute('api/items/{id:nosuch}')).toThrow(/Unknown route constraint "nosuch"/);
    expect(() => compileRoute('api/items/prefix-{id}')).toThrow(/Unsupported route segment "prefix-\{id\}"/);
  });
});
