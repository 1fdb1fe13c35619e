export interface WaitForOptions {
  /** How long to keep polling before failing. Default 10 s. */
  timeoutMs?: number;
  /** Pause between polls. Default 20 ms. */
  intervalMs?: number;
  /** Names what is awaited in the failure message. */
  description?: string;
}

/**
 * Polls `predicate` until it returns a truthy value (which is returned), or throws at the deadline with a message
 * naming what was awaited and the last error the predicate threw, if any.
 */
export async function waitFor<T>(
  predicate: () => T | undefined | null | false | Promise<T | undefined | null | false>,
  options: WaitForOptions = {},
): Promise<T> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const intervalMs = options.intervalMs ?? 20;
  const deadline = Date.now() + timeoutMs;
  let lastError: unknown;
  for (;;) {
    try {
      const value = await predicate();
      if (value) return value;
    } catch (error) {
      lastError = error;
    }
    if (Date.now() >= deadline) {
      const what = options.description ?? 'condition';
      const cause =
        lastError === undefined
          ? ''
          : `; last error: ${lastError instanceof Error ? lastError.message : JSON.stringify(lastError)}`;
      throw new Error(`Timed out after ${timeoutMs} ms waiting for ${what}${cause}`);
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
