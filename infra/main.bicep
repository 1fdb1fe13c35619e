// failover-plane in Azure: `azd up` deploys this at subscription scope. Layout after the official Durable Functions
// TypeScript azd quickstart (Azure-Samples/durable-functions-quickstart-typescript-azd): one resource group, modules
// per concern under app/ and core/, the Durable Task Scheduler as the durable backend.
targetScope = 'subscription'

@minLength(1)
@maxLength(64)
@description('Name of the azd environment; used to derive a short unique token for resource names.')
param environmentName string

@minLength(1)
@description('Primary location: the Function App (Flex Consumption), state storage, scheduler, Key Vault, monitoring.')
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@minLength(1)
@description('Location of the witness storage account: a third region, neither the primary nor the standby cluster\'s.')
@metadata({
  azd: {
    type: 'location'
  }
})
param witnessLocation string

@description('Durable backend: the Durable Task Scheduler (default) or Azure Storage (the local/CI backend).')
@allowed(['scheduler', 'storage'])
param durableBackend string = 'scheduler'

@description('Durable Task Scheduler SKU: Consumption (pay per action) or Dedicated (capacity units).')
@allowed(['Consumption', 'Dedicated'])
param dtsSkuName string = 'Consumption'

@description('Resource group ids (/subscriptions/<id>/resourceGroups/<name>) of the protected clusters\' VMs and scale sets: Virtual Machine Contributor on each.')
param protectedResourceGroupIds array = []

@description('Subscriptions whose compute usages and SKUs the spillover planner reads: Reader on each. Default: this one.')
param readerSubscriptionIds array = [subscription().subscriptionId]

@secure()
@description('Initial NODE_KEY_MASTER: base64 of at least 32 random bytes (openssl rand -base64 48). Empty after the first provision: the stored secret is kept.')
param nodeKeyMaster string = ''

@secure()
@description('Optional AUTH_KEYS (operator API keys), stored in Key Vault.')
param authKeys string = ''

@secure()
@description('Optional FAILOVER_WEBHOOK_SECRETS (whsec_ secrets, comma separated), stored in Key Vault.')
param failoverWebhookSecrets string = ''

@description('Optional OCI access: tenancy, user, key fingerprint, compartment; the private key goes to Key Vault.')
param ociTenancyOcid string = ''
param ociUserOcid string = ''
param ociKeyFingerprint string = ''
param ociCompartmentOcid string = ''
@secure()
param ociPrivateKey string = ''

@description('Optional TABLE_PREFIX for the state tables.')
param tablePrefix string = ''

@description('Application Insights with local auth disabled: ingestion only with Entra tokens of the identity (Monitoring Metrics Publisher). Off by default: the app\'s OpenTelemetry exporter must be given the identity\'s credential first (see infra/README.md).')
param appInsightsEntraAuth bool = false

@description('Deploy the example action group and Service Health / Resource Health alerts (examples/alerts.bicep).')
param deployAlertExamples bool = false
@description('Regions of the protected clusters, for the Service Health alert example.')
param protectedRegions array = []
@description('Resource ids of the nodes\' VMs, for the Resource Health alert example.')
param protectedVmIds array = []

param resourceGroupName string = ''

var abbrs = loadJsonContent('./abbreviations.json')
var roles = loadJsonContent('./core/security/roleDefinitions.json')
var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = { 'azd-env-name': environmentName }
var functionAppName = '${abbrs.webSitesFunctions}api-${resourceToken}'
var deploymentStorageContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'

resource rg 'Microsoft.Resources/resourceGroups@2021-04-01' = {
  name: !empty(resourceGroupName) ? resourceGroupName : '${abbrs.resourcesResourceGroups}${environmentName}'
  location: location
  tags: tags
}

module identity './core/security/userAssignedIdentity.bicep' = {
  name: 'identity'
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}api-${resourceToken}'
    location: location
    tags: tags
  }
}

module plan './core/host/flexConsumptionPlan.bicep' = {
  name: 'plan'
  scope: rg
  params: {
    name: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
  }
}

module stateStorage './core/storage/storageAccount.bicep' = {
  name: 'stateStorage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}${resourceToken}'
    location: location
    tags: tags
    skuName: 'Standard_LRS'
    containers: [deploymentStorageContainerName]
  }
}

// The cloud witness: LRS (a lease's consistency must not depend on geo-replication), in a third region.
module witnessStorage './core/storage/storageAccount.bicep' = {
  name: 'witnessStorage'
  scope: rg
  params: {
    name: '${abbrs.storageStorageAccounts}w${resourceToken}'
    location: witnessLocation
    tags: tags
    skuName: 'Standard_LRS'
  }
}

module monitoring './core/monitor/monitoring.bicep' = {
  name: 'monitoring'
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: '${abbrs.insightsComponents}${resourceToken}'
    location: location
    tags: tags
    disableLocalAuth: appInsightsEntraAuth
  }
}

module keyVault './app/keyVault.bicep' = {
  name: 'keyVault'
  scope: rg
  params: {
    name: '${abbrs.keyVaultVaults}${resourceToken}'
    location: location
    tags: tags
    nodeKeyMaster: nodeKeyMaster
    authKeys: authKeys
    failoverWebhookSecrets: failoverWebhookSecrets
    ociPrivateKey: ociPrivateKey
  }
}

module dts './app/dts.bicep' = if (durableBackend == 'scheduler') {
  name: 'dts'
  scope: rg
  params: {
    name: '${abbrs.durableTaskSchedulers}${resourceToken}'
    taskHubName: '${abbrs.durableTaskHubs}${resourceToken}'
    location: location
    tags: tags
    skuName: dtsSkuName
  }
}

module api './app/api.bicep' = {
  name: 'api'
  scope: rg
  params: {
    name: functionAppName
    location: location
    tags: tags
    appServicePlanId: plan.outputs.id
    durableBackend: durableBackend
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    stateStorageAccountName: stateStorage.outputs.name
    deploymentStorageContainerName: deploymentStorageContainerName
    witnessStorageAccountName: witnessStorage.outputs.name
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    appInsightsEntraAuth: appInsightsEntraAuth
    schedulerEndpoint: durableBackend == 'scheduler' ? dts.outputs.endpoint : ''
    taskHubName: durableBackend == 'scheduler' ? dts.outputs.taskHubName : ''
    nodeKeyMasterSecretUri: keyVault.outputs.nodeKeyMasterSecretUri
    authKeysSecretUri: !empty(authKeys) ? keyVault.outputs.authKeysSecretUri : ''
    failoverWebhookSecretsSecretUri: !empty(failoverWebhookSecrets) ? keyVault.outputs.failoverWebhookSecretsSecretUri : ''
    ociPrivateKeySecretUri: !empty(ociPrivateKey) ? keyVault.outputs.ociPrivateKeySecretUri : ''
    ociTenancyOcid: ociTenancyOcid
    ociUserOcid: ociUserOcid
    ociKeyFingerprint: ociKeyFingerprint
    ociCompartmentOcid: ociCompartmentOcid
    tablePrefix: tablePrefix
  }
  dependsOn: [rbac]
}

// Roles inside the app's resource group (state, witness, Key Vault, Application Insights).
module rbac './app/rbac.bicep' = {
  name: 'rbac'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    stateStorageAccountName: stateStorage.outputs.name
    witnessStorageAccountName: witnessStorage.outputs.name
    keyVaultName: keyVault.outputs.name
    applicationInsightsName: monitoring.outputs.applicationInsightsName
    appInsightsEntraAuth: appInsightsEntraAuth
  }
}

module dtsAccess './app/dts-Access.bicep' = if (durableBackend == 'scheduler') {
  name: 'dtsAccess'
  scope: rg
  params: {
    principalId: identity.outputs.principalId
    roleDefinitionId: roles['Durable Task Data Contributor']
    schedulerName: dts.outputs.name
  }
}

// Virtual Machine Contributor on each protected cluster's resource group: start, deallocate, power off and read
// the instance views of VMs and scale set instances (shared/providers/azure/azureComputeProvider.ts).
module clusterAccess './core/security/resourceGroupRoleAssignment.bicep' = [
  for rgId in protectedResourceGroupIds: {
    name: 'clusterAccess-${uniqueString(rgId)}'
    scope: resourceGroup(split(rgId, '/')[2], split(rgId, '/')[4])
    params: {
      principalId: identity.outputs.principalId
      roleDefinitionId: roles['Virtual Machine Contributor']
    }
  }
]

// Reader on each subscription whose compute usages and resource SKUs the spillover planner reads.
module usageAccess './core/security/subscriptionRoleAssignment.bicep' = [
  for subscriptionId in readerSubscriptionIds: {
    name: 'usageAccess-${uniqueString(subscriptionId, resourceToken)}'
    scope: subscription(subscriptionId)
    params: {
      principalId: identity.outputs.principalId
      roleDefinitionId: roles.Reader
    }
  }
]

module appRegistration './app/appRegistration.bicep' = {
  name: 'appRegistration'
  scope: rg
  params: {
    uniqueName: 'failover-plane-${resourceToken}'
    displayName: 'failover-plane (${environmentName})'
    hostName: api.outputs.defaultHostName
  }
}

module auth './app/auth.bicep' = {
  name: 'auth'
  scope: rg
  params: {
    siteName: api.outputs.name
    clientId: appRegistration.outputs.appId
    identifierUri: appRegistration.outputs.identifierUri
  }
}

module alerts './examples/alerts.bicep' = if (deployAlertExamples) {
  name: 'alertExamples'
  scope: rg
  params: {
    name: '${abbrs.insightsActionGroups}${resourceToken}'
    alertNamePrefix: '${abbrs.insightsActivityLogAlerts}${resourceToken}'
    tags: tags
    secureWebhookUri: '${api.outputs.uri}/api/v1/webhooks/azure-monitor/secure'
    appRegistrationObjectId: appRegistration.outputs.objectId
    identifierUri: appRegistration.outputs.identifierUri
    protectedRegions: protectedRegions
    protectedVmIds: protectedVmIds
  }
}

// Outputs read by azd (written to the azd environment) and its hooks.
output AZURE_LOCATION string = location
output AZURE_TENANT_ID string = tenant().tenantId
output AZURE_RESOURCE_GROUP string = rg.name
output AZURE_FUNCTION_APP_NAME string = api.outputs.name
output SERVICE_API_NAME string = api.outputs.name
output SERVICE_API_URI string = api.outputs.uri
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name
output AZURE_MANAGED_IDENTITY_CLIENT_ID string = identity.outputs.clientId
output AZURE_APP_REGISTRATION_CLIENT_ID string = appRegistration.outputs.appId
output AZURE_APP_IDENTIFIER_URI string = appRegistration.outputs.identifierUri
output DURABLE_BACKEND string = durableBackend
