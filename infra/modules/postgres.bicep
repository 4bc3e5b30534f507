// Azure Database for PostgreSQL Flexible Server with Entra authentication, password authentication off by default.
// The Entra administrator (a person or group, a parameter) runs the migrations and creates the app's database
// principal:
//   SELECT * FROM pgaadauth_create_principal('<app identity name>', false, false);  then GRANT bizmetrics_app TO it.
// ARM cannot create a database role, so that step is in docs/deployment.md.
//
// grafanaPasswordLogin: Grafana's PostgreSQL data source logs in with a password only (Grafana declined Entra
// auth for it: github.com/grafana/grafana/issues/76638), so this switch also accepts password logins. Only
// bizmetrics_grafana (read-only: a member of bizmetrics_reader, read-only sessions, 30 s statement timeout) is
// ever given a password, by the administrator with psql's \password (docs/deployment.md, section 9); every other
// role stays an Entra principal or NOLOGIN. Azure refuses to switch password authentication on without a password
// administrator login (EngineCredentialsNotProvided), so the server gets one, with a password nobody knows: a new
// GUID at every deployment, never output, stored or logged (a @secure parameter).
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
@description('Also accept password logins, for Grafana\'s bizmetrics_grafana only (see the comment above).')
param grafanaPasswordLogin bool = false
@description('The password administrator Azure requires while password logins are on; nobody is meant to use it.')
param passwordAdminLogin string = 'bizmetrics_unused_admin'
@secure()
@description('Its password: a new random GUID at every deployment unless given; never output.')
// checkov:skip=CKV_AZURE_131: the default is newGuid(), a fresh random value at every deployment, not a hard-coded secret
param passwordAdminPassword string = newGuid()
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
    // null leaves the property out: an Entra-only server has no password administrator.
    administratorLogin: grafanaPasswordLogin ? passwordAdminLogin : null
    administratorLoginPassword: grafanaPasswordLogin ? passwordAdminPassword : null
    authConfig: {
      activeDirectoryAuth: 'Enabled'
      passwordAuth: grafanaPasswordLogin ? 'Enabled' : 'Disabled'
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
