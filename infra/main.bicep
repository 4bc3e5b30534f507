// Bizmetrics in one resource group: Function App (Flex Consumption, Python 3.11) with a user-assigned identity,
// storage through that identity, Key Vault, PostgreSQL Flexible Server with Entra auth, Log Analytics +
// Application Insights, the Durable backend (Azure Storage or the Durable Task Scheduler) and alerts; optionally
// Azure Managed Grafana (deployGrafana) and password logins for Grafana's read-only role (grafanaPasswordLogin).
//   az deployment group create -g <rg> -f infra/main.bicep -p infra/parameters/dev.parameters.json
// Outputs are names and endpoints only: no key, no connection string with a secret.
targetScope = 'resourceGroup'

@minLength(2)
@maxLength(12)
@description('Short lowercase environment name, part of every resource name (dev, prod).')
param environmentName string
param location string = resourceGroup().location
@allowed([ 'AzureStorage', 'DurableTaskScheduler' ])
@description('Durable Functions backend: Azure Storage (default) or the Durable Task Scheduler (azureManaged).')
param durableBackend string = 'AzureStorage'
@allowed([ 'Dedicated', 'Consumption' ])
param durableSchedulerSku string = 'Consumption'
param taskHubName string = 'bizmetrics${environmentName}'
param syncSchedule string = '0 */30 * * * *'
@description('Object id of the Entra user or group administering PostgreSQL (runs migrations).')
param postgresAdminObjectId string
param postgresAdminPrincipalName string
@allowed([ 'User', 'Group', 'ServicePrincipal' ])
param postgresAdminPrincipalType string = 'Group'
@description('Also accept password logins on PostgreSQL, for Grafana\'s read-only bizmetrics_grafana only (modules/postgres.bicep).')
param grafanaPasswordLogin bool = false
@description('Deploy Azure Managed Grafana (modules/grafana.bicep); its data source needs grafanaPasswordLogin.')
param deployGrafana bool = false
@description('Object id of the Entra user or group made Grafana Admin; empty: the PostgreSQL administrator.')
param grafanaAdminObjectId string = ''
@allowed([ 'User', 'Group', 'ServicePrincipal' ])
param grafanaAdminPrincipalType string = 'Group'
param postgresSkuName string = 'Standard_B1ms'
param postgresSkuTier string = 'Burstable'
param entraTenantId string = ''
param entraAudience string = ''
param maximumInstanceCount int = 40
param alertEmail string = ''
param landingRetentionDays int = 30
param extraAppSettings object = {}
param tags object = {}

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var prefix = 'bizm-${environmentName}'
var allTags = union({ application: 'bizmetrics', environment: environmentName }, tags)
var useScheduler = durableBackend == 'DurableTaskScheduler'

module identity 'modules/identity.bicep' = {
  name: 'identity'
  params: { name: 'id-${prefix}', location: location, tags: allTags }
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'monitoring'
  params: {
    logAnalyticsName: 'log-${prefix}'
    appInsightsName: 'appi-${prefix}'
    location: location
    tags: allTags
  }
}

module storage 'modules/storage.bicep' = {
  name: 'storage'
  params: {
    name: take('stbizm${environmentName}${token}', 24)
    location: location
    tags: allTags
    landingRetentionDays: landingRetentionDays
  }
}

module vault 'modules/keyvault.bicep' = {
  name: 'keyvault'
  params: { name: take('kv-${prefix}-${token}', 24), location: location, tags: allTags }
}

module postgres 'modules/postgres.bicep' = {
  name: 'postgres'
  params: {
    name: 'psql-${prefix}-${token}'
    location: location
    tags: allTags
    adminObjectId: postgresAdminObjectId
    adminPrincipalName: postgresAdminPrincipalName
    adminPrincipalType: postgresAdminPrincipalType
    skuName: postgresSkuName
    skuTier: postgresSkuTier
    grafanaPasswordLogin: grafanaPasswordLogin
  }
}

module grafana 'modules/grafana.bicep' = if (deployGrafana) {
  name: 'grafana'
  params: {
    name: 'amg-${prefix}'
    location: location
    tags: allTags
    adminPrincipalId: empty(grafanaAdminObjectId) ? postgresAdminObjectId : grafanaAdminObjectId
    adminPrincipalType: empty(grafanaAdminObjectId) ? postgresAdminPrincipalType : grafanaAdminPrincipalType
  }
}

module durable 'modules/durabletask.bicep' = if (useScheduler) {
  name: 'durabletask'
  params: {
    schedulerName: 'dts-${prefix}-${token}'
    taskHubName: taskHubName
    location: location
    tags: allTags
    skuName: durableSchedulerSku
  }
}

module roles 'modules/roles.bicep' = {
  name: 'roles'
  params: {
    principalId: identity.outputs.principalId
    storageAccountName: storage.outputs.name
    keyVaultName: vault.outputs.name
    appInsightsName: monitoring.outputs.appInsightsName
    durableSchedulerName: useScheduler ? durable.outputs.schedulerName : ''
  }
}

module app 'modules/functionapp.bicep' = {
  name: 'functionapp'
  params: {
    name: 'func-${prefix}-${token}'
    planName: 'plan-${prefix}'
    location: location
    tags: allTags
    identityId: identity.outputs.id
    identityClientId: identity.outputs.clientId
    identityName: identity.outputs.name
    storageAccountName: storage.outputs.name
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: storage.outputs.deploymentContainerName
    landingContainerName: storage.outputs.landingContainerName
    keyVaultName: vault.outputs.name
    keyVaultUri: vault.outputs.uri
    appInsightsName: monitoring.outputs.appInsightsName
    postgresFqdn: postgres.outputs.fqdn
    postgresDatabase: postgres.outputs.databaseName
    taskHubName: taskHubName
    durableBackend: durableBackend
    durableSchedulerEndpoint: useScheduler ? durable.outputs.endpoint : ''
    syncSchedule: syncSchedule
    entraTenantId: entraTenantId
    entraAudience: entraAudience
    maximumInstanceCount: maximumInstanceCount
    extraAppSettings: extraAppSettings
  }
  // The host starts with the identity's storage and Key Vault roles already in place.
  dependsOn: [ roles ]
}

module alerts 'modules/alerts.bicep' = {
  name: 'alerts'
  params: {
    appInsightsId: monitoring.outputs.appInsightsId
    location: location
    tags: allTags
    namePrefix: prefix
    alertEmail: alertEmail
  }
}

module workbook 'modules/workbook.bicep' = {
  name: 'workbook'
  params: {
    appInsightsId: monitoring.outputs.appInsightsId
    location: location
    tags: allTags
  }
}

output functionAppName string = app.outputs.name
output functionAppHostName string = app.outputs.defaultHostName
output identityName string = identity.outputs.name
output identityClientId string = identity.outputs.clientId
output keyVaultName string = vault.outputs.name
output storageAccountName string = storage.outputs.name
output postgresFqdn string = postgres.outputs.fqdn
output postgresDatabase string = postgres.outputs.databaseName
output taskHubName string = taskHubName
output grafanaName string = deployGrafana ? grafana.outputs.name : ''
output grafanaEndpoint string = deployGrafana ? grafana.outputs.endpoint : ''
