import { ExitCodes, type ExitCode } from './exitCodes';

/** A failure `failoverctl` reports as one line on stderr and an exit code; one class per kind. */
export abstract class CliError extends Error {
  abstract readonly exitCode: ExitCode;
}

/** The command line is wrong, or the API refused the request as invalid (400, 413, 415, 422). */
export class UsageError extends CliError {
  override readonly name = 'UsageError';
  readonly exitCode = ExitCodes.usage;
}

/** The operation failed or was refused (409, a failed or rolled-back operation, a failed drill). */
export class OperationFailedError extends CliError {
  override readonly name = 'OperationFailedError';
  readonly exitCode = ExitCodes.failed;
}

/** The cluster, node, operation, drill or pool does not exist (404). */
export class NotFoundError extends CliError {
  override readonly name = 'NotFoundError';
  readonly exitCode = ExitCodes.notFound;
}

/** No or wrong credentials (401, 403), or no Entra token could be had. */
export class AuthError extends CliError {
  override readonly name = 'AuthError';
  readonly exitCode = ExitCodes.auth;
}

/** The control plane cannot be reached, timed out, or answered 5xx / 429 (try again). */
export class UnavailableError extends CliError {
  override readonly name = 'UnavailableError';
  readonly exitCode = ExitCodes.unavailable;
}
