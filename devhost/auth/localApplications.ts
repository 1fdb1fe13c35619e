import { objectIdFor } from './localUsers';

/**
 * An application (service principal) of the emulated Entra tenant: it calls the app with a bearer token instead of
 * signing in. The devhost hands out tokens for it (`POST /.auth/devhost/token`, form `client_id=<name or appId>`) and,
 * like App Service Authentication validating an Entra token, turns a request's `Authorization: Bearer <token>` into
 * the principal headers, with the application's app roles as `roles` claims.
 */
export interface LocalApplication {
  name: string;
  /** The application (client) id, as the `appid` claim. */
  appId: string;
  /** The service principal's object id (`oid`). */
  objectId: string;
  /** The app roles assigned to it (e.g. `ActionGroupsSecureWebhook`). */
  roles: string[];
}

/**
 * Azure Monitor action groups' Secure Webhook caller: the "AzNS AAD Webhook" application (its well-known appId),
 * assigned the `ActionGroupsSecureWebhook` app role — what the deployment's Entra app registration does.
 */
export const ACTION_GROUP_APPLICATION: LocalApplication = {
  name: 'azns-aad-webhook',
  appId: '461e8683-5575-4561-ac7f-899cc907d62a',
  objectId: objectIdFor('azns-aad-webhook'),
  roles: ['ActionGroupsSecureWebhook'],
};

/** The applications of the emulated tenant by default. */
export const DEFAULT_APPLICATIONS: readonly LocalApplication[] = [ACTION_GROUP_APPLICATION];
