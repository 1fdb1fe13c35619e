// App Service Authentication (Easy Auth v2) in front of the Function App. Unauthenticated requests are allowed
// through: the app authorizes each route itself (shared/auth/routeAccess.ts) from the client principal header, and
// function keys keep working for agents and simple webhooks.
param siteName string
param clientId string
param identifierUri string

resource site 'Microsoft.Web/sites@2024-04-01' existing = {
  name: siteName
}

resource authSettings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'authsettingsV2'
  properties: {
    platform: {
      enabled: true
    }
    globalValidation: {
      requireAuthentication: false
      unauthenticatedClientAction: 'AllowAnonymous'
    }
    httpSettings: {
      requireHttps: true
    }
    identityProviders: {
      azureActiveDirectory: {
        enabled: true
        registration: {
          clientId: clientId
          openIdIssuer: '${environment().authentication.loginEndpoint}${tenant().tenantId}/v2.0'
        }
        validation: {
          allowedAudiences: [identifierUri, clientId]
        }
      }
    }
    login: {
      tokenStore: {
        enabled: false
      }
    }
  }
}
