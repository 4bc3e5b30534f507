// Azure Database for PostgreSQL Flexible Server, Entra authentication only (password auth off). The Entra
// administrator (a person or group, a parameter) runs the migrations and creates the app's database principal:
//   SELECT * FROM pgaadauth_create_principal('<app identity name>', false, false);  then GRANT bizmetrics_app TO it.
// ARM cannot create a database role, so that step is in docs/deployment.md.
param name string
param location string
param tags object = {}
param databaseName string = 'bizmetrics'
param postgresVersion string = '16'
param skuName string = 'Standard_B1ms'
param skuTier string = 'Burstable'
param storageSizeGB int = 32
param tenantId string = subscription().tenantId
@description('Object id of the Entra user or group that administers the server (runs migrations).')
param adminObjectId string
@description('Display name (UPN or group name) of that administrator.')
param adminPrincipalName string
@allowed([ 'User', 'Group', 'ServicePrincipal' ])
param adminPrincipalType string = 'Group'
@description('Without a virtual network the Flex Consumption app reaches the server over its public endpoint; the rule 0.0.0.0 admits Azure services only.')
param allowAzureServices bool = true

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: name
  location: location
  tags: tags
  sku: { name: skuName, tier: skuTier }
  properties: {
    version: postgresVersion
    storage: { storageSizeGB: storageSizeGB, autoGrow: 'Enabled' }
    backup: { backupRetentionDays: 7, geoRedundantBackup: 'Disabled' }
    highAvailability: { mode: 'Disabled' }
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: 'Disabled'
      tenantId: tenantId
    }
  }
}

resource admin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  name: adminObjectId
  properties: {
    principalName: adminPrincipalName
    principalType: adminPrincipalType
    tenantId: tenantId
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: databaseName
  properties: { charset: 'UTF8', collation: 'en_US.utf8' }
}

resource azureServices 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = if (allowAzureServices) {
  parent: server
  name: 'AllowAllAzureServicesAndResourcesWithinAzureIps'
  properties: { startIpAddress: '0.0.0.0', endIpAddress: '0.0.0.0' }
}

output id string = server.id
output name string = server.name
output fqdn string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
