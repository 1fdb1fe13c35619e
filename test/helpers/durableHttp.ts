/** Small HTTP helpers for tests that drive a devhost through its public API. */
export async function request(
  url: string,
  init: {
    method?: string;
    body?: unknown;
    raw?: boolean;
    key?: string;
    headers?: Record<string, string>;
  } = {},
): Promise<{ status: number; headers: Headers; text: string; json: any }> {
  const response = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      ...(init.key ? { 'x-functions-key': init.key } : {}),
      ...(init.body !== undefined ? { 'content-type': 'application/json' } : {}),
      ...init.headers,
    },
    ...(init.body !== undefined
      ? { body: init.raw ? (init.body as string) : JSON.stringify(init.body) }
      : {}),
  });
  const text = await response.text();
  let json: unknown;
  try {
    json = text ? JSON.parse(text) : undefined;
  } catch {
    json = undefined;
  }
  return { status: response.status, headers: response.headers, text, json };
}

/** Polls `statusQueryGetUri` until the instance leaves Pending/Running, or fails at the deadline. */
export async function waitForInstance(
  statusUrl: string,
  timeoutMs = 20_000,
  until?: (status: any) => boolean,
): Promise<any> {
  const deadline = Date.now() + timeoutMs;
  let last: any;
  while (Date.now() < deadline) {
    const r = await request(statusUrl);
    last = r.json;
    const done = until
      ? until(last)
      : ['Completed', 'Failed', 'Terminated', 'Canceled'].includes(last?.runtimeStatus);
    if (done) return last;
    await new Promise((resolve) => setTimeout(resolve, 25));
  }
  throw new Error(
    `instance did not reach the expected state within ${timeoutMs} ms; last status: ${JSON.stringify(last)}`,
  );
}
