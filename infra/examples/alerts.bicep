// Example: an action group that posts to the control plane's Secure Webhook (an Entra token whose app role is
// ActionGroupsSecureWebhook, validated by App Service Authentication), with a Service Health alert for the protected
// clusters' regions and a Resource Health alert for the nodes' VMs. Deployed by main.bicep when
// deployAlertExamples = true, or on its own into a resource group.
//
// The simple alternative (no Entra): a plain webhook receiver with the function key in the URL, to the
// function-key route:
//   webhookReceivers: [{
//     name: 'failover-plane'
//     serviceUri: 'https://<app>.azurewebsites.net/api/v1/webhooks/azure-monitor?code=<function key>'
//     useCommonAlertSchema: true
//   }]
param name string
param alertNamePrefix string
param tags object = {}
@description('https://<app host>/api/v1/webhooks/azure-monitor/secure')
param secureWebhookUri string
@description('Object id of the app registration (the application object, not its service principal).')
param appRegistrationObjectId string
@description('The app registration\'s identifier URI (the token audience).')
param identifierUri string
@description('Regions of the protected clusters (e.g. eastus2, westeurope).')
param protectedRegions array = []
@description('Resource ids of the nodes\' VMs.')
param protectedVmIds array = []

resource actionGroup 'Microsoft.Insights/actionGroups@2023-01-01' = {
  name: name
  location: 'global'
  tags: tags
  properties: {
    groupShortName: 'failover'
    enabled: true
    webhookReceivers: [
      {
        name: 'failover-plane-secure'
        serviceUri: secureWebhookUri
        useCommonAlertSchema: true
        useAadAuth: true
        objectId: appRegistrationObjectId
        identifierUri: identifierUri
        tenantId: tenant().tenantId
      }
    ]
  }
}

resource serviceHealth 'Microsoft.Insights/activityLogAlerts@2020-10-01' = if (!empty(protectedRegions)) {
  name: '${alertNamePrefix}-service-health'
  location: 'global'
  tags: tags
  properties: {
    enabled: true
    scopes: [subscription().id]
    condition: {
      allOf: [
        {
          field: 'category'
          equals: 'ServiceHealth'
        }
        {
          field: 'properties.incidentType'
          equals: 'Incident'
        }
        {
          anyOf: [
            for region in protectedRegions: {
              field: 'properties.impactedServices[*].ImpactedRegions[*].RegionName'
              containsAny: [region]
            }
          ]
        }
      ]
    }
    actions: {
      actionGroups: [
        {
          actionGroupId: actionGroup.id
        }
      ]
    }
  }
}

resource resourceHealth 'Microsoft.Insights/activityLogAlerts@2020-10-01' = if (!empty(protectedVmIds)) {
  name: '${alertNamePrefix}-resource-health'
  location: 'global'
  tags: tags
  properties: {
    enabled: true
    scopes: protectedVmIds
    condition: {
      allOf: [
        {
          field: 'category'
          equals: 'ResourceHealth'
        }
        {
          anyOf: [
            {
              field: 'properties.currentHealthStatus'
              equals: 'Unavailable'
            }
            {
              field: 'properties.currentHealthStatus'
              equals: 'Degraded'
            }
          ]
        }
      ]
    }
    actions: {
      actionGroups: [
        {
          actionGroupId: actionGroup.id
        }
      ]
    }
  }
}

output actionGroupId string = actionGroup.id
