/**
 * Upper bounds of the numbers on the wire. JSON numbers are doubles without a limit (`1e308` parses, `1e400`
 * parses as Infinity and serialises back as `null`), so every numeric field of a contract schema has an explicit
 * range, and `parseStrictJson` rejects a literal that is not a finite double. Senders keep to these bounds
 * (the agent clamps what it measures); a body outside them is refused as a whole.
 */
export const BOUNDS = {
  /** Epochs: raised once per role change; 2^31 − 1 is far beyond any cluster's lifetime and fits every store. */
  epoch: 2 ** 31 - 1,
  /** Request sequence numbers (the `x-fp-seq` header): positive safe integers, as the signature check parses them. */
  seq: Number.MAX_SAFE_INTEGER,
  /** Durations and lags in ms: 2^31 − 1 (24.8 days, also Node's timer limit). */
  durationMs: 2 ** 31 - 1,
  /** Counters (ECC, XID errors): 2^31 − 1. */
  count: 2 ** 31 - 1,
  /** GPU memory in MiB: 2^24 MiB = 16 TiB per GPU. */
  gpuMemoryMiB: 2 ** 24,
  /** GPU index (nvidia-smi's 0-based `index`). */
  gpuIndex: 64,
  /** GPUs per heartbeat. */
  gpus: 64,
  /** Checks per heartbeat or arbitration request. */
  checks: 32,
  /** Length of a check name and of its detail. */
  checkName: 64,
  checkDetail: 500,
  /** Hook steps per command acknowledgement, the length of a step's name, and of its output tail. */
  ackSteps: 32,
  stepName: 128,
  outputTail: 2000,
  /** A command acknowledgement's message. */
  ackMessage: 500,
  /** Exit codes as the agent reports them (a signal is reported as null). */
  exitCode: 2 ** 31 - 1,
} as const;
