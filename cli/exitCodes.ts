/**
 * `failoverctl`'s exit codes (README "failoverctl"): scripts branch on them, so they never change meaning.
 * 0 ok · 1 the operation failed or was refused · 2 usage error (the command line, or a request the API found invalid)
 * · 3 not found · 4 authentication or authorization · 5 unreachable or temporarily unavailable.
 */
export const ExitCodes = {
  ok: 0,
  failed: 1,
  usage: 2,
  notFound: 3,
  auth: 4,
  unavailable: 5,
} as const;

export type ExitCode = (typeof ExitCodes)[keyof typeof ExitCodes];
