// Durable Task Data Contributor (or any role) on the scheduler.
param principalId string
param roleDefinitionId string
param schedulerName string
@allowed(['ServicePrincipal', 'User'])
param principalType string = 'ServicePrincipal'

resource scheduler 'Microsoft.DurableTask/schedulers@2026-02-01' existing = {
  name: schedulerName
}

resource assignment 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(scheduler.id, principalId, roleDefinitionId)
  scope: scheduler
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roleDefinitionId)
    principalId: principalId
    principalType: principalType
  }
}
