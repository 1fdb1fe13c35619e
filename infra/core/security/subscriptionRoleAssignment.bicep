// One role for one principal on the subscription this module is scoped to (Reader: compute usages and SKUs).
targetScope = 'subscription'

param principalId string
@description('Role definition GUID (see roleDefinitions.json).')
param roleDefinitionId string
@allowed(['ServicePrincipal', 'User', 'Group'])
param principalType string = 'ServicePrincipal'

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(subscription().id, principalId, roleDefinitionId)
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: principalType
  }
}
