import type { IncomingMessage } from 'node:http';
import type { CloudModel, SimCloud, SimSite } from './cloudModel';

export interface SimRequest {
  method: string;
  url: URL;
  headers: IncomingMessage['headers'];
  body: Buffer;
  /** The parsed JSON body (undefined when empty); a malformed body throws `SimBadRequest`. */
  json(): unknown;
}

export type SimReply =
  | {
      status: number;
      headers?: Record<string, string>;
      body?: unknown;
      /** Answered from an idempotency key's first result: nothing changed (logged for the chaos checker). */
      replayed?: boolean;
    }
  /** The site is down: refuse the connection (reset) or never answer. */
  | { drop: 'refuse' | 'hang' };

export interface SimRoute {
  cloud: SimCloud | 'admin';
  method: string;
  /** Matched against the path; named groups become `params`. */
  pattern: RegExp;
  handle(
    request: SimRequest,
    params: Record<string, string>,
    model: CloudModel,
  ): SimReply | Promise<SimReply>;
}

export class SimBadRequest extends Error {
  override readonly name = 'SimBadRequest';
}

/** A site that is down answers for its resources by dropping the request. */
export function downReply(site: SimSite | undefined): SimReply | undefined {
  return site?.down ? { drop: site.down } : undefined;
}
