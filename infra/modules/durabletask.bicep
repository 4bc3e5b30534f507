// The Durable Task Scheduler (storage provider type 'azureManaged'): a scheduler and the app's task hub.
// Deployed only when main.bicep's durableBackend is 'DurableTaskScheduler'.
param schedulerName string
param taskHubName string
param location string
param tags object = {}
@allowed([ 'Dedicated', 'Consumption' ])
param skuName string = 'Consumption'

resource scheduler 'Microsoft.DurableTask/schedulers@2025-04-01-preview' = {
  name: schedulerName
  location: location
  tags: tags
  properties: {
    ipAllowlist: [ '0.0.0.0/0' ]
    sku: { name: skuName }
  }
}

resource taskHub 'Microsoft.DurableTask/schedulers/taskHubs@2025-04-01-preview' = {
  parent: scheduler
  name: taskHubName
}

output schedulerId string = scheduler.id
output schedulerName string = scheduler.name
output endpoint string = scheduler.properties.endpoint
output taskHubName string = taskHub.name
