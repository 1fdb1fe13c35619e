import type { AuthFailure, AuthSettings, Credentials } from './authenticate';
import {
  CLIENT_PRINCIPAL_HEADER,
  principalIdentity,
  readPrincipalClaims,
  roleClaimValues,
} from './clientPrincipal';

/**
 * The app role an Azure Monitor action group's Secure Webhook carries: the action groups' service principal ("AzNS
 * AAD Webhook") is assigned this role of the app's Entra registration, so its token has `roles:
 * ["ActionGroupsSecureWebhook"]`, which App Service Authentication passes on in `x-ms-client-principal`.
 */
export const SECURE_WEBHOOK_ROLE = 'ActionGroupsSecureWebhook';

/** The caller of a secure webhook: the platform-authenticated principal that holds the role. */
export interface WebhookPrincipal {
  objectId: string | undefined;
  name: string | undefined;
  /** `webhook:<object id or name>`, for logs. */
  actor: string;
}

export type WebhookAuthentication = { ok: true; principal: WebhookPrincipal } | AuthFailure;

/**
 * Who may call a secure webhook route: a principal App Service Authentication vouches for (so only when the app
 * trusts the platform, `AUTH_TRUST_CLIENT_PRINCIPAL=true`) with the role `role` among its role claims (`role_typ`
 * claims and `roles` claims: Entra puts app roles in `roles`). Keys are not accepted here: a function key has its own
 * route. 401 when the platform's principal is not trusted, absent or unreadable; 403 (naming the role) without it.
 */
export function authenticateWebhookPrincipal(
  credentials: Pick<Credentials, 'header'>,
  settings: Pick<AuthSettings, 'trustClientPrincipal'>,
  role: string = SECURE_WEBHOOK_ROLE,
): WebhookAuthentication {
  if (!settings.trustClientPrincipal)
    return {
      ok: false,
      status: 401,
      code: 'ClientPrincipalNotTrusted',
      message:
        'this endpoint takes only a caller authenticated by App Service Authentication (an Entra token with the ' +
        `${role} app role), and the app does not trust x-ms-client-principal (AUTH_TRUST_CLIENT_PRINCIPAL is not true); ` +
        'use the function-key webhook route instead',
    };
  const header = credentials.header(CLIENT_PRINCIPAL_HEADER);
  if (!header)
    return {
      ok: false,
      status: 401,
      code: 'Unauthenticated',
      message: `send the action group's Secure Webhook token (Authorization: Bearer, an Entra token with the ${role} app role)`,
    };
  const read = readPrincipalClaims(header);
  if (!read.ok) return { ok: false, status: 401, code: read.code, message: read.message };
  const { name, objectId } = principalIdentity(read.value);
  const actor = `webhook:${objectId ?? name ?? 'unknown'}`;
  if (!roleClaimValues(read.value).includes(role))
    return {
      ok: false,
      status: 403,
      code: 'MissingRole',
      message: `this needs the ${role} app role; ${actor} does not have it`,
      requiredRole: role,
    };
  return { ok: true, principal: { name, objectId, actor } };
}
