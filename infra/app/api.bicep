// The control plane's Function App on Flex Consumption (Node 22) and its application settings. Every setting the
// app reads in Azure is set here (test/infra/appSettings.test.ts checks it against loadConfig and host.json).
param name string
param location string = resourceGroup().location
param tags object = {}
param serviceName string = 'api'
param appServicePlanId string

@allowed(['scheduler', 'storage'])
param durableBackend string = 'scheduler'

param identityId string
param identityClientId string

param stateStorageAccountName string
param deploymentStorageContainerName string
param witnessStorageAccountName string

param applicationInsightsConnectionString string
param appInsightsEntraAuth bool = true

@description('Durable Task Scheduler endpoint (durableBackend = scheduler).')
param schedulerEndpoint string = ''
param taskHubName string = ''

param nodeKeyMasterSecretUri string
@description('Key Vault secret URIs of the optional secrets; empty: the setting is not set.')
param authKeysSecretUri string = ''
param failoverWebhookSecretsSecretUri string = ''
param ociPrivateKeySecretUri string = ''

param ociTenancyOcid string = ''
param ociUserOcid string = ''
param ociKeyFingerprint string = ''
param ociCompartmentOcid string = ''
param tablePrefix string = ''

param runtimeVersion string = '22'
param instanceMemoryMB int = 2048
param maximumInstanceCount int = 40

resource state 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: stateStorageAccountName
}

resource witness 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: witnessStorageAccountName
}

// AzureWebJobsStorage in its identity form: the Functions host, the timers, the Durable Storage backend and the
// app's state tables (shared/config: the same names).
var stateStorageSettings = {
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AzureWebJobsStorage__blobServiceUri: state.properties.primaryEndpoints.blob
  AzureWebJobsStorage__queueServiceUri: state.properties.primaryEndpoints.queue
  AzureWebJobsStorage__tableServiceUri: state.properties.primaryEndpoints.table
}

// The cloud witness's leases, in the third region.
var witnessStorageSettings = {
  WitnessStorage__blobServiceUri: witness.properties.primaryEndpoints.blob
  WitnessStorage__credential: 'managedidentity'
  WitnessStorage__clientId: identityClientId
}

// Durable Task Scheduler (host.json's Azure form names these two; scripts/hostJsonFor.cjs).
var schedulerSettings = durableBackend == 'scheduler' ? {
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${schedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
  TASKHUB_NAME: taskHubName
} : {}

var telemetrySettings = {
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
}

var telemetryAuthSettings = appInsightsEntraAuth ? {
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
} : {}

// Operators sign in through App Service Authentication (auth.bicep); the app authorizes from the client principal.
var appSettings = {
  NODE_KEY_MASTER: '@Microsoft.KeyVault(SecretUri=${nodeKeyMasterSecretUri})'
  AUTH_TRUST_CLIENT_PRINCIPAL: 'true'
  AZURE_SUBSCRIPTION_ID: subscription().subscriptionId
  AZURE_CREDENTIAL: 'managed-identity'
  AZURE_MANAGED_IDENTITY_CLIENT_ID: identityClientId
}

var authKeysSettings = !empty(authKeysSecretUri) ? {
  AUTH_KEYS: '@Microsoft.KeyVault(SecretUri=${authKeysSecretUri})'
} : {}

var webhookSettings = !empty(failoverWebhookSecretsSecretUri) ? {
  FAILOVER_WEBHOOK_SECRETS: '@Microsoft.KeyVault(SecretUri=${failoverWebhookSecretsSecretUri})'
} : {}

var ociSettings = !empty(ociTenancyOcid) ? {
  OCI_TENANCY_OCID: ociTenancyOcid
  OCI_USER_OCID: ociUserOcid
  OCI_KEY_FINGERPRINT: ociKeyFingerprint
  OCI_COMPARTMENT_OCID: ociCompartmentOcid
  OCI_PRIVATE_KEY: '@Microsoft.KeyVault(SecretUri=${ociPrivateKeySecretUri})'
} : {}

var tablePrefixSettings = !empty(tablePrefix) ? {
  TABLE_PREFIX: tablePrefix
} : {}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityId}': {}
    }
  }
  properties: {
    serverFarmId: appServicePlanId
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${state.properties.primaryEndpoints.blob}${deploymentStorageContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        instanceMemoryMB: instanceMemoryMB
        maximumInstanceCount: maximumInstanceCount
        // The Storage backend polls its queues: one warm instance of the durable group keeps orchestrations moving
        // between scale decisions. The scheduler pushes work, so nothing needs to stay warm (0 cost at rest).
        alwaysReady: durableBackend == 'storage' ? [
          {
            name: 'durable'
            instanceCount: 1
          }
        ] : []
      }
      runtime: {
        name: 'node'
        version: runtimeVersion
      }
    }
  }
}

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: site
  name: 'appsettings'
  properties: union(
    stateStorageSettings,
    witnessStorageSettings,
    schedulerSettings,
    telemetrySettings,
    telemetryAuthSettings,
    appSettings,
    authKeysSettings,
    webhookSettings,
    ociSettings,
    tablePrefixSettings
  )
}

output name string = site.name
output id string = site.id
output defaultHostName string = site.properties.defaultHostName
output uri string = 'https://${site.properties.defaultHostName}'
