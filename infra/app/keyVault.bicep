// Key Vault in RBAC mode holding the app's secrets; the app reads them through Key Vault references resolved by
// the platform with the user-assigned identity (Key Vault Secrets User). A secret is written only when its value
// is given, so a later `azd provision` without the value leaves the stored one alone.
param name string
param location string = resourceGroup().location
param tags object = {}

@secure()
@description('Initial NODE_KEY_MASTER (base64 of >= 32 random bytes: openssl rand -base64 48). Empty: keep the stored one.')
param nodeKeyMaster string = ''
@secure()
param authKeys string = ''
@secure()
param failoverWebhookSecrets string = ''
@secure()
param ociPrivateKey string = ''

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 7
    enablePurgeProtection: null
    publicNetworkAccess: 'Enabled'
  }
}

// Secret names (Key Vault allows letters, digits and dashes), in one place.
var secretNames = {
  nodeKeyMaster: 'node-key-master'
  authKeys: 'auth-keys'
  failoverWebhookSecrets: 'failover-webhook-secrets'
  ociPrivateKey: 'oci-private-key'
}

resource nodeKeyMasterSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(nodeKeyMaster)) {
  parent: vault
  name: secretNames.nodeKeyMaster
  properties: {
    value: nodeKeyMaster
    contentType: 'base64'
  }
}

resource authKeysSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(authKeys)) {
  parent: vault
  name: secretNames.authKeys
  properties: {
    value: authKeys
  }
}

resource webhookSecretsSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(failoverWebhookSecrets)) {
  parent: vault
  name: secretNames.failoverWebhookSecrets
  properties: {
    value: failoverWebhookSecrets
  }
}

resource ociPrivateKeySecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(ociPrivateKey)) {
  parent: vault
  name: secretNames.ociPrivateKey
  properties: {
    value: ociPrivateKey
    contentType: 'application/x-pem-file'
  }
}

// Versionless secret URIs: the app always resolves the latest version (rotation = a new version + restart).
output name string = vault.name
output id string = vault.id
output vaultUri string = vault.properties.vaultUri
output nodeKeyMasterSecretUri string = '${vault.properties.vaultUri}secrets/${secretNames.nodeKeyMaster}'
output authKeysSecretUri string = '${vault.properties.vaultUri}secrets/${secretNames.authKeys}'
output failoverWebhookSecretsSecretUri string = '${vault.properties.vaultUri}secrets/${secretNames.failoverWebhookSecrets}'
output ociPrivateKeySecretUri string = '${vault.properties.vaultUri}secrets/${secretNames.ociPrivateKey}'
