// The user-assigned identity's roles inside the app's resource group. Role GUIDs: ../core/security/roleDefinitions.json.
// Why each role is needed: test/infra/roles.test.ts (and ARCHITECTURE.md).
param principalId string
param stateStorageAccountName string
param witnessStorageAccountName string
param keyVaultName string
param applicationInsightsName string
@description('Assign Monitoring Metrics Publisher on Application Insights (Entra ID ingestion).')
param appInsightsEntraAuth bool = true

var roles = loadJsonContent('../core/security/roleDefinitions.json')

resource state 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: stateStorageAccountName
}

resource witness 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: witnessStorageAccountName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// State account: the Functions host (keys, locks, timers), the Flex deployment container, the Durable Storage
// backend's blobs.
resource stateBlobOwner 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(state.id, principalId, roles['Storage Blob Data Owner'])
  scope: state
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Storage Blob Data Owner'])
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// State account: the cluster state tables (and the Durable Storage backend's history/instances tables).
resource stateTableContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(state.id, principalId, roles['Storage Table Data Contributor'])
  scope: state
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Storage Table Data Contributor'])
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// State account: the Functions host's own queue use and the Durable Storage backend's control/work-item queues.
resource stateQueueContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(state.id, principalId, roles['Storage Queue Data Contributor'])
  scope: state
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Storage Queue Data Contributor'])
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Witness account: blob leases of the cloud witness (create the container, write, acquire/renew/break leases).
resource witnessBlobContributor 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(witness.id, principalId, roles['Storage Blob Data Contributor'])
  scope: witness
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Storage Blob Data Contributor'])
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault: the platform resolves the app settings' Key Vault references with this identity.
resource vaultSecretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, principalId, roles['Key Vault Secrets User'])
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Key Vault Secrets User'])
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}

// Application Insights with local auth disabled: ingestion needs an Entra token of this identity.
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (appInsightsEntraAuth) {
  name: guid(applicationInsights.id, principalId, roles['Monitoring Metrics Publisher'])
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles['Monitoring Metrics Publisher'])
    principalId: principalId
    principalType: 'ServicePrincipal'
  }
}
