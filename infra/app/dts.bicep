// The Durable Task Scheduler and its task hub: the durable backend in Azure (durableBackend = 'scheduler').
param name string
param taskHubName string
param location string
param tags object = {}
@description('Consumption: pay per action, nothing at rest. Dedicated: reserved capacity units.')
@allowed(['Consumption', 'Dedicated'])
param skuName string = 'Consumption'
@description('CIDR ranges allowed to reach the scheduler endpoint (identity is still required).')
param ipAllowlist array = ['0.0.0.0/0']

resource scheduler 'Microsoft.DurableTask/schedulers@2026-02-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    ipAllowlist: ipAllowlist
    sku: {
      name: skuName
    }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2026-02-01' = {
  parent: scheduler
  name: taskHubName
}

output name string = scheduler.name
output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
