/** Azure Table key rules: ≤ 1 KiB, none of `/ \ # ?`, U+0000–U+001F or U+007F–U+009F. */
export function tableKeyProblem(value: string): string | undefined {
  if (value.length === 0) return 'must not be empty';
  if (Buffer.byteLength(value, 'utf8') > 1024) return 'must be at most 1 KiB';
  // eslint-disable-next-line no-control-regex
  if (/[/\\#?\u0000-\u001f\u007f-\u009f]/.test(value))
    return "must not contain '/', '\\', '#', '?' or control characters";
  return undefined;
}

/** Cluster and node ids: the one id rule of `shared/contracts/ids.ts`. */
export { ID_PATTERN } from '../contracts/ids';
