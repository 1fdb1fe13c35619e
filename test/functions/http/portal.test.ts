import { paths } from '../../../shared/contracts/routes';
import { startControlPlane, type ControlPlane } from '../../helpers/controlPlane';
import { request } from '../../helpers/durableHttp';

/** GET /api/portal/{*path}: the portal's static files, through the devhost as the app serves them (no browser). */
let cp: ControlPlane;
beforeAll(async () => {
  cp = await startControlPlane();
});
afterAll(async () => {
  await cp?.stop();
});

it('serves the portal as static files with their content types and a strict CSP; nothing else', async () => {
  const index = await fetch(`${cp.host.url}${paths.portal()}/`);
  expect(index.status).toBe(200);
  expect(index.headers.get('content-type')).toBe('text/html; charset=utf-8');
  const csp = index.headers.get('content-security-policy') ?? '';
  expect(csp).toContain("default-src 'none'");
  expect(csp).toContain("script-src 'self'");
  expect(csp).not.toContain('unsafe-inline');
  expect(index.headers.get('x-content-type-options')).toBe('nosniff');
  const html = await index.text();
  expect(html).toContain('<script type="module" src="app/main.js"></script>');
  expect(html).not.toMatch(/<script(?![^>]*\ssrc=)[^>]*>/); // no inline script
  expect(html).not.toMatch(/https?:\/\//); // nothing from another origin

  const js = await fetch(`${cp.host.url}${paths.portal()}/app/main.js`);
  expect(js.status).toBe(200);
  expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
  const css = await fetch(`${cp.host.url}${paths.portal()}/portal.css`);
  expect(css.headers.get('content-type')).toBe('text/css; charset=utf-8');
  const etag = js.headers.get('etag') as string;
  expect(
    (await fetch(`${cp.host.url}${paths.portal()}/app/main.js`, { headers: { 'if-none-match': etag } }))
      .status,
  ).toBe(304);

  const bare = await fetch(`${cp.host.url}${paths.portal()}`, { redirect: 'manual' });
  expect(bare.status).toBe(301);
  expect(bare.headers.get('location')).toBe(`${paths.portal()}/`);
  for (const missing of ['nope.js', '..%2F..%2Fpackage.json', 'app/../../package.json', '.build-stamp']) {
    const r = await request(`${cp.host.url}${paths.portal()}/${missing}`);
    expect([404]).toContain(r.status);
  }
  // Only files of the build, by their type: no dot files, no source maps or other types.
  expect((await fetch(`${cp.host.url}${paths.portal()}/app/main.ts`)).status).toBe(404);
  const traversal = await request(`${cp.host.url}${paths.portal()}/..%2Ffunctions%2Fhttp%2Fportal.js`);
  expect(traversal.status).toBe(404);
  expect(traversal.json).toMatchObject({ error: { code: 'NotFound' } });
});
