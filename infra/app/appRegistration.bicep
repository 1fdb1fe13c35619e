// The Entra app registration behind App Service Authentication, with the app roles the control plane authorizes
// on (shared/auth/roles.ts) and ActionGroupsSecureWebhook for Azure Monitor's Secure Webhook. Microsoft Graph
// Bicep extension (v1.0): the deployer needs permission to create applications (e.g. Application Developer).
extension microsoftGraphV1

param uniqueName string
param displayName string
@description('The Function App host name, for the sign-in redirect URI.')
param hostName string

var identifierUri = 'api://${tenant().tenantId}/${uniqueName}'

// Fixed role ids (stable across deployments: derived from the unique name).
var appRoles = [
  {
    value: 'viewer'
    displayName: 'Viewer'
    description: 'Reads clusters, operations and reports.'
  }
  {
    value: 'operator'
    displayName: 'Operator'
    description: 'Runs failovers, make-active switchovers and drills.'
  }
  {
    value: 'admin'
    displayName: 'Administrator'
    description: 'Manages clusters, enrollment and settings.'
  }
  {
    value: 'ActionGroupsSecureWebhook'
    displayName: 'Action Groups Secure Webhook'
    description: 'Azure Monitor action groups posting alerts to the secure webhook.'
  }
]

resource application 'Microsoft.Graph/applications@v1.0' = {
  uniqueName: uniqueName
  displayName: displayName
  signInAudience: 'AzureADMyOrg'
  identifierUris: [identifierUri]
  api: {
    requestedAccessTokenVersion: 2
  }
  web: {
    redirectUris: ['https://${hostName}/.auth/login/aad/callback']
    implicitGrantSettings: {
      enableIdTokenIssuance: true
    }
  }
  appRoles: [
    for role in appRoles: {
      id: guid(uniqueName, role.value)
      value: role.value
      displayName: role.displayName
      description: role.description
      allowedMemberTypes: role.value == 'ActionGroupsSecureWebhook' ? ['Application'] : ['User', 'Application']
      isEnabled: true
    }
  ]
}

resource servicePrincipal 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: application.appId
}

// The "AzNS AAD Webhook" first-party application that action groups use to get tokens for Secure Webhooks. Declared
// (not `existing`) so that it is created in tenants where it has no service principal yet.
resource aznsWebhook 'Microsoft.Graph/servicePrincipals@v1.0' = {
  appId: '461e8683-5575-4561-ac7f-899cc907d62a'
}

resource aznsWebhookRole 'Microsoft.Graph/appRoleAssignedTo@v1.0' = {
  appRoleId: guid(uniqueName, 'ActionGroupsSecureWebhook')
  principalId: aznsWebhook.id
  resourceId: servicePrincipal.id
}

output appId string = application.appId
output objectId string = application.id
output servicePrincipalId string = servicePrincipal.id
output identifierUri string = identifierUri
