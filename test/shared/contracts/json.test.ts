import { parseStrictJson } from '../../../shared/contracts/json';

describe('parseStrictJson', () => {
  it('parses JSON as JSON.parse does', () => {
    const text = '{"a": [1, -2.5e3, {"b": "x,\\"}{"}], "c": null, "d": true, "e": {}}';
    expect(parseStrictJson(text)).toEqual({ ok: true, value: JSON.parse(text) });
    expect(parseStrictJson('[]')).toEqual({ ok: true, value: [] });
    expect(parseStrictJson('7')).toEqual({ ok: true, value: 7 });
  });

  it('refuses a duplicate key, naming it and where it is', () => {
    expect(parseStrictJson('{"role": "standby", "epoch": 1, "epoch": 9}')).toEqual({
      ok: false,
      reason: 'duplicate-key',
      message: 'duplicate key "epoch" at $.epoch',
      path: '$.epoch',
    });
    expect(parseStrictJson('{"gpu": [{"index": 0}, {"index": 1, "index": 2}]}')).toMatchObject({
      ok: false,
      reason: 'duplicate-key',
      path: '$.gpu[1].index',
    });
  });

  it('compares keys after unescaping them', () => {
    expect(parseStrictJson('{"epoch": 1, "\\u0065poch": 9}')).toMatchObject({
      ok: false,
      reason: 'duplicate-key',
      path: '$.epoch',
    });
    expect(parseStrictJson('{"a b": 1, "a\\u0020b": 2}')).toMatchObject({ path: '$["a b"]' });
  });

  it('allows the same key in different objects, and keys that look alike in strings', () => {
    const text = '{"a": {"x": 1}, "b": {"x": 2}, "c": [{"x": 1}, {"x": 2}], "d": "\\"a\\": 1, \\"a\\": 2"}';
    expect(parseStrictJson(text)).toEqual({ ok: true, value: JSON.parse(text) });
    expect(parseStrictJson('{"__proto__": 1, "constructor": 2}')).toMatchObject({ ok: true });
    expect(parseStrictJson('{"__proto__": 1, "__proto__": 2}')).toMatchObject({
      ok: false,
      reason: 'duplicate-key',
    });
  });

  it('finds the end of strings with escaped quotes and backslashes', () => {
    expect(parseStrictJson('{"k": "a\\\\", "k": 2}')).toMatchObject({ ok: false, path: '$.k' });
    expect(parseStrictJson('{"k": "a\\"\\\\\\"", "j": "\\\\", "l": 1}')).toMatchObject({ ok: true });
    // Generated objects: no false duplicate, and a key repeated anywhere is found.
    let seed = 7;
    const random = () => (seed = (seed * 1103515245 + 12345) % 2 ** 31) / 2 ** 31;
    const text = () =>
      Array.from({ length: Math.floor(random() * 6) }, () => '\\"a,:{}[] 1'[Math.floor(random() * 10)]).join(
        '',
      );
    for (let round = 0; round < 200; round++) {
      const value: Record<string, unknown> = {};
      for (let k = 0; k < 5; k++)
        value[`${text()}${k}`] = random() < 0.5 ? text() : [text(), { [text()]: 1 }];
      const json = JSON.stringify(value);
      expect(parseStrictJson(json)).toEqual({ ok: true, value });
      const [firstKey] = Object.keys(value);
      const duplicated = `${json.slice(0, -1)},${JSON.stringify(firstKey)}:0}`;
      expect(parseStrictJson(duplicated)).toMatchObject({ ok: false, reason: 'duplicate-key' });
    }
  });

  it('refuses a number that is not a finite double (JSON.parse makes it Infinity, stored as null)', () => {
    expect(JSON.parse('{"a": 1e400}')).toEqual({ a: Infinity });
    expect(parseStrictJson('{"a": [0, 1e400]}')).toEqual({
      ok: false,
      reason: 'number-range',
      message: 'the number 1e400 at $.a[1] is out of range',
      path: '$.a[1]',
    });
    expect(parseStrictJson('-1E+309')).toMatchObject({ ok: false, reason: 'number-range', path: '$' });
    // Large but finite, and underflow to 0, are JSON numbers: the schemas bound them.
    expect(parseStrictJson('[1e308, 1e-400]')).toEqual({ ok: true, value: [1e308, 0] });
  });

  it('reports a syntax error as such', () => {
    expect(parseStrictJson('{"a": 1,}')).toMatchObject({ ok: false, reason: 'syntax' });
    expect(parseStrictJson('')).toMatchObject({ ok: false, reason: 'syntax' });
    expect(parseStrictJson('{"a": Infinity}')).toMatchObject({ ok: false, reason: 'syntax' });
  });
});
