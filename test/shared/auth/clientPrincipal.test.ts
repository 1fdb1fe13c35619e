import {
  encodeClientPrincipal,
  parseClientPrincipal,
  CLAIM_TYPES,
} from '../../../shared/auth/clientPrincipal';

const b64 = (value: unknown) =>
  Buffer.from(typeof value === 'string' ? value : JSON.stringify(value)).toString('base64');

describe('parseClientPrincipal', () => {
  it('reads the name, object id and control-plane roles of an Entra principal', () => {
    const header = b64({
      auth_typ: 'aad',
      name_typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name',
      role_typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role',
      claims: [
        { typ: 'http://schemas.xmlsoap.org/ws/2005/05/identity/claims/name', val: 'ada@contoso.com' },
        { typ: CLAIM_TYPES.objectId[0], val: '0f2d6b1e-1111-2222-3333-444455556666' },
        { typ: 'roles', val: 'operator' },
        { typ: 'http://schemas.microsoft.com/ws/2008/06/identity/claims/role', val: 'Viewer' },
        { typ: 'roles', val: 'Something.Else' },
      ],
    });
    expect(parseClientPrincipal(header)).toEqual({
      ok: true,
      principal: {
        authType: 'aad',
        name: 'ada@contoso.com',
        objectId: '0f2d6b1e-1111-2222-3333-444455556666',
        roles: ['operator', 'viewer'],
      },
    });
  });

  it('round-trips what encodeClientPrincipal builds', () => {
    const parsed = parseClientPrincipal(
      encodeClientPrincipal({ name: 'otto@example.test', objectId: 'abc-1', roles: ['admin'] }),
    );
    expect(parsed).toMatchObject({ ok: true, principal: { name: 'otto@example.test', roles: ['admin'] } });
  });

  it('gives no role for app roles the control plane does not know', () => {
    const parsed = parseClientPrincipal(
      b64({
        auth_typ: 'aad',
        claims: [
          { typ: 'name', val: 'x' },
          { typ: 'roles', val: 'superuser' },
        ],
      }),
    );
    expect(parsed).toMatchObject({ ok: true, principal: { roles: [] } });
  });

  it.each([
    ['empty', ''],
    ['not base64', '!!!not base64!!!'],
    ['base64 of not JSON', b64('hello world')],
    ['a JSON array', b64([1, 2])],
    ['JSON null', b64('null')],
    ['without claims', b64({ auth_typ: 'aad', name_typ: 'name' })],
    ['claims not a list', b64({ auth_typ: 'aad', claims: { typ: 'name', val: 'x' } })],
    ['a claim without val', b64({ auth_typ: 'aad', claims: [{ typ: 'name' }] })],
    ['a claim that is a string', b64({ auth_typ: 'aad', claims: ['name=x'] })],
    ['no name and no object id', b64({ auth_typ: 'aad', claims: [{ typ: 'roles', val: 'admin' }] })],
    ['too large', 'A'.repeat(20_000)],
  ])('refuses a header that is %s (InvalidClientPrincipal)', (_what, header) => {
    const parsed = parseClientPrincipal(header);
    expect(parsed).toMatchObject({ ok: false, code: 'InvalidClientPrincipal' });
    if (!parsed.ok) expect(parsed.message).toMatch(/^the x-ms-client-principal header /);
  });

  it('drops control characters and caps the length of what it records', () => {
    const parsed = parseClientPrincipal(
      b64({ auth_typ: 'aad', claims: [{ typ: 'name', val: `evil\n${'x'.repeat(500)}` }] }),
    );
    expect(parsed.ok && parsed.principal.name).toBe(`evil${'x'.repeat(196)}`);
  });
});
