import type { HttpRequest, HttpResponseInit, InvocationContext } from '@azure/functions';
import { authenticate, authorizeCaller } from '../../shared/auth/authenticate';
import type { Caller } from '../../shared/auth/caller';
import { requiredRole, type RoleMethod } from '../../shared/auth/routeAccess';
import { getConfig } from '../../shared/config/config';
import type { RouteName } from '../../shared/contracts/routes';

type Handler = (request: HttpRequest, context: InvocationContext) => Promise<HttpResponseInit>;

const callers = new WeakMap<HttpRequest, Caller>();

/**
 * Guards a handler with the role `ROUTE_ACCESS` (shared/auth/routeAccess.ts) declares for its route and method:
 * 401 without an identity (or with a bad key or a malformed principal), 403 naming the role when the caller lacks
 * it — both before the body is read or anything is touched. The handler reads the caller with `callerOf(request)`.
 * Register the function with `authLevel: 'anonymous'`: the host must let signed-in users (who have no function
 * key) through to this check.
 *
 *     handler: withErrorPolicy(authorizeRoute('makeActive', 'POST', withServices(makeActiveHandler)))
 */
export function authorizeRoute<R extends RouteName>(
  route: R,
  method: RoleMethod<R>,
  handler: Handler,
): Handler {
  const needed = requiredRole(route, method);
  return async (request, context) => {
    const authentication = authenticate(
      { header: (name) => request.headers.get(name), query: (name) => request.query.get(name) },
      getConfig().auth,
    );
    const decision = authentication.ok ? authorizeCaller(authentication.caller, needed) : authentication;
    if (!decision.ok) {
      const { ok: _ok, status, code, message, ...extra } = decision;
      context.info(`refused ${String(method)} ${route}: ${status} ${code}`);
      return { status, jsonBody: { error: { code, message, ...extra } } };
    }
    callers.set(request, decision.caller);
    return handler(request, context);
  };
}

/** The caller `authorizeRoute` let through (throws when the handler was not registered behind it). */
export function callerOf(request: HttpRequest): Caller {
  const caller = callers.get(request);
  if (!caller) throw new Error('callerOf: the handler is not behind authorizeRoute');
  return caller;
}

/** The audit actor of the request's caller: `user:<name> (<oid>)` or `key:<name>`. */
export const actorOf = (request: HttpRequest): string => callerOf(request).actor;

/** The query parameters a handler validates: all but `code`, the key a caller may send in the query string. */
export const queryWithoutKey = (request: HttpRequest): Record<string, string> =>
  Object.fromEntries([...request.query.entries()].filter(([name]) => name !== 'code'));
