import http from 'node:http';
import https from 'node:https';
import type { CheckResult } from './types';

export interface HttpCheckOptions {
  name: string;
  url: string;
  /** Healthy statuses; default any 2xx or 3xx. */
  expectStatus?: number | number[];
  insecure?: boolean;
  timeoutMs: number;
}

/** GETs a URL: ok when the status is one of the expected ones, fail otherwise (or on no answer in time). */
export function runHttpCheck(options: HttpCheckOptions): Promise<CheckResult> {
  const started = performance.now();
  const expected =
    options.expectStatus === undefined
      ? undefined
      : Array.isArray(options.expectStatus)
        ? options.expectStatus
        : [options.expectStatus];
  const healthy = (status: number) => (expected ? expected.includes(status) : status >= 200 && status < 400);
  const elapsed = () => Math.round(performance.now() - started);
  return new Promise((resolve) => {
    const done = (status: 'ok' | 'fail', detail: string) =>
      resolve({ name: options.name, status, detail, durationMs: elapsed() });
    const signal = AbortSignal.timeout(options.timeoutMs);
    const url = new URL(options.url);
    const client = url.protocol === 'https:' ? https : http;
    const request = client.get(
      url,
      {
        signal,
        agent: false,
        ...(url.protocol === 'https:' ? { rejectUnauthorized: !options.insecure } : {}),
      },
      (response) => {
        response.resume();
        const status = response.statusCode ?? 0;
        response.once('end', () =>
          done(
            healthy(status) ? 'ok' : 'fail',
            `HTTP ${status} from ${url.host}${url.pathname} in ${elapsed()} ms`,
          ),
        );
        response.once('error', () => done('fail', `HTTP ${status}, then the answer broke off`));
      },
    );
    request.once('error', (error: NodeJS.ErrnoException) =>
      done(
        'fail',
        signal.aborted
          ? `no answer from ${url.host} within ${options.timeoutMs} ms`
          : `GET ${url.host}${url.pathname} failed: ${error.code ?? error.message}`,
      ),
    );
  });
}
