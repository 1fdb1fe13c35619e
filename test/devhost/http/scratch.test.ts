import path from 'node:path';
import { Readable } from 'node:stream';
import { startDevhost } from '../../../devhost/startDevhost';
import { realRequire } from '../../../devhost/realRequire';
test('probe', async () => {
  const env = (realRequire(__filename)('node:process') as NodeJS.Process).env;
  const lines: any[] = [];
  const t0 = Date.now();
  const d = await startDevhost({ appDir: path.join(__dirname, '../../fixtures/apps/http-app'), port: 0, storage: 'memory', maxRequestBodyBytes: 1024, env, log: (...a) => lines.push(a) });
  console.log('start ms', Date.now() - t0, d.url);
  try {
    let r = await fetch(`${d.url}/api/echo`, { method: 'POST', body: 'hi' });
    console.log(r.status, [...r.headers], r.headers.getSetCookie(), await r.text());
    r = await fetch(`${d.url}/api/greeting`);
    console.log(r.status, await r.text());
    const big = Readable.from([Buffer.alloc(600, 97), Buffer.alloc(600, 97)]);
    try {
      r = await fetch(`${d.url}/api/echo`, { method: 'POST', body: Readable.toWeb(big) as any, duplex: 'half' } as any);
      console.log('chunked', r.status, await r.text());
    } catch (e) { console.log('chunked failed', e, (e as any).cause); }
    r = await fetch(`${d.url}/api/echo`, { method: 'POST', body: 'x'.repeat(2000) });
    console.log('declared', r.status, await r.text());
    r = await fetch(`${d.url}/api/hang`);
    console.log('hang', r.status, await r.text());
    r = await fetch(`${d.url}/api/items/%ZZ`);
    console.log('bad pct', r.status, await r.text());
    console.log(lines.map((l) => JSON.stringify(l)).join('\n'));
  } finally { await d.stop(); }
});
