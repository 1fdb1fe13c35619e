import { readErrorBody } from '../shared/contracts/errors';
import { printable } from '../shared/domain/clusterStatus';
import type { Connection } from './connection';
import { entraToken } from './entraToken';
import { AuthError, NotFoundError, OperationFailedError, UnavailableError, UsageError } from './errors';

export interface ApiRequest {
  method?: string;
  /** JSON-encoded unless `raw` is given. */
  body?: unknown;
  raw?: { text: string; contentType: string };
}

export interface ApiAnswer {
  status: number;
  json: unknown;
}

/** An API error: its HTTP status, code and the error object (with details such as `plan` or `blockers`). */
export interface ApiErrorInfo {
  status: number;
  code: string;
  message: string;
  error: Record<string, unknown>;
}

/** What an error answer becomes in the CLI: the exit code follows the HTTP status (README "Exit codes"). */
export function errorForAnswer(info: ApiErrorInfo): Error {
  const text = `${printable(info.message)} (${info.status} ${printable(info.code)})`;
  if (info.status === 404) return new NotFoundError(text);
  if (info.status === 401 || info.status === 403) return new AuthError(text);
  if (info.status === 400 || info.status === 413 || info.status === 415 || info.status === 422)
    return new UsageError(text);
  if (info.status === 409) return new OperationFailedError(text);
  if (info.status === 429 || info.status >= 500) return new UnavailableError(text);
  return new OperationFailedError(text);
}

/** The control plane's HTTP API as the CLI calls it: one request at a time, JSON in and out. */
export class ApiClient {
  #token: string | undefined;

  constructor(
    readonly connection: Connection,
    private readonly options: { timeoutMs?: number } = {},
  ) {}

  async #headers(): Promise<Record<string, string>> {
    const { auth } = this.connection;
    if (auth.kind === 'entra') {
      this.#token ??= await entraToken(auth.scope);
      return { authorization: `Bearer ${this.#token}` };
    }
    return auth.key ? { 'x-functions-key': auth.key } : {};
  }

  /** Sends the request; any answer (error answers too) comes back, only a transport failure throws. */
  async send(path: string, request: ApiRequest = {}): Promise<ApiAnswer> {
    const headers = await this.#headers();
    let body: string | undefined;
    if (request.raw) {
      body = request.raw.text;
      headers['content-type'] = request.raw.contentType;
    } else if (request.body !== undefined) {
      body = JSON.stringify(request.body);
      headers['content-type'] = 'application/json';
    }
    headers.accept = 'application/json';
    const target = `${this.connection.url}${path}`;
    let response: Response;
    try {
      response = await fetch(target, {
        method: request.method ?? 'GET',
        headers,
        ...(body !== undefined ? { body } : {}),
        signal: AbortSignal.timeout(this.options.timeoutMs ?? 30_000),
      });
    } catch (error) {
      throw new UnavailableError(`cannot reach ${this.connection.url}: ${transportReason(error)}`);
    }
    let text: string;
    try {
      text = await response.text();
    } catch (error) {
      throw new UnavailableError(`the answer of ${this.connection.url} broke off: ${transportReason(error)}`);
    }
    let json: unknown;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = undefined;
    }
    return { status: response.status, json };
  }

  /** Sends the request and returns the JSON of a 2xx answer; an error answer throws the CLI error of its status. */
  async call(path: string, request: ApiRequest = {}): Promise<unknown> {
    const answer = await this.send(path, request);
    if (answer.status >= 200 && answer.status < 300) return answer.json;
    throw errorForAnswer(errorInfo(answer));
  }
}

/** The error object of an error answer (lenient: a body that is not one still gives a code and message). */
export function errorInfo(answer: ApiAnswer): ApiErrorInfo {
  const error = readErrorBody(answer.json);
  if (error) return { status: answer.status, code: error.code, message: error.message, error };
  const fallback =
    answer.status === 401 ? 'not authenticated: pass a key (--key) or --entra' : `HTTP ${answer.status}`;
  return { status: answer.status, code: `Http${answer.status}`, message: fallback, error: {} };
}

function transportReason(error: unknown): string {
  if (error instanceof Error) {
    if (error.name === 'TimeoutError' || error.name === 'AbortError') return 'no answer in time';
    const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause;
    if (cause && typeof cause.code === 'string') return cause.code;
    if (cause && typeof cause.message === 'string') return printable(cause.message);
    return printable(error.message);
  }
  return 'unknown error';
}
