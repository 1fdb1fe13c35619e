/**
 * Errors thrown by app code may come from another realm (the app runs under Node's loader while the devhost may run
 * inside a test runner's sandbox), so `instanceof Error` is not reliable: read them by shape.
 */
export function errorMessage(error: unknown): string {
  if (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { message?: unknown }).message === 'string'
  ) {
    return (error as { message: string }).message;
  }
  return String(error);
}

export function errorStack(error: unknown): string {
  if (
    typeof error === 'object' &&
    error !== null &&
    typeof (error as { stack?: unknown }).stack === 'string'
  ) {
    return (error as { stack: string }).stack;
  }
  return errorMessage(error);
}
