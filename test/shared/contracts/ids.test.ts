import { assertId, idSchema, isId } from '../../../shared/contracts/ids';
import { ID_PATTERN as domainIdPattern } from '../../../shared/domain/tableKeys';
import { isId as authIsId } from '../../../shared/auth/ids';

describe('the id rule', () => {
  const good = ['a', '0', 'bcm-head', 'a-b-c', 'node1', 'x'.repeat(63), `a${'-b'.repeat(31)}`];
  const bad = [
    '',
    '-a',
    'a-',
    'a--b',
    'A',
    'head_a',
    'head.a',
    'a/b',
    'a~b',
    'a\nb',
    'ä',
    'x'.repeat(64),
    ' a',
  ];

  it.each(good)('accepts %j', (id) => {
    expect(isId(id)).toBe(true);
    expect(idSchema.safeParse(id).success).toBe(true);
    expect(() => assertId(id, 'clusterId')).not.toThrow();
  });

  it.each(bad)('refuses %j', (id) => {
    expect(isId(id)).toBe(false);
    expect(idSchema.safeParse(id).success).toBe(false);
    expect(() => assertId(id, 'clusterId')).toThrow(/clusterId must be 1-63 lowercase letters/);
  });

  it('refuses what is not a string', () => {
    expect(isId(7)).toBe(false);
    expect(isId(undefined)).toBe(false);
    expect(idSchema.safeParse(7).success).toBe(false);
  });

  it('is the rule the domain and the signature check use', () => {
    expect(domainIdPattern.source).toBe(/^[a-z0-9](?:[a-z0-9]|-(?=[a-z0-9])){0,62}$/.source);
    expect(authIsId).toBe(isId);
  });
});
