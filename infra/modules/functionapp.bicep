// The Function App on the Flex Consumption plan (Python 3.11), running as the user-assigned identity.
// Every connection is identity-based: no storage key, no database password, no instrumentation key.
// Flex Consumption rejects FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION as app settings (the runtime
// is functionAppConfig.runtime), so neither is set here.
param name string
param planName string
param location string
param tags object = {}
param identityId string
param identityClientId string
param identityName string
param storageAccountName string
param storageBlobEndpoint string
param storageQueueEndpoint string
param storageTableEndpoint string
param deploymentContainerName string
param landingContainerName string
param keyVaultName string
param keyVaultUri string
@description('Application Insights is read here, so no module output carries its connection string.')
param appInsightsName string
param postgresFqdn string
param postgresDatabase string
param taskHubName string
@allowed([ 'AzureStorage', 'DurableTaskScheduler' ])
param durableBackend string = 'AzureStorage'
@description('Scheduler endpoint (https://...durabletask.io); only with the Durable Task Scheduler backend.')
param durableSchedulerEndpoint string = ''
param syncSchedule string = '0 */30 * * * *'
param entraTenantId string = ''
param entraAudience string = ''
param maximumInstanceCount int = 40
@allowed([ 512, 2048, 4096 ])
param instanceMemoryMB int = 2048
@description('Also publish the four static secrets as Key Vault references (SECRET_*); the app itself reads them from KEY_VAULT_URL.')
param secretsAsKeyVaultReferences bool = true
@description('Further plain settings from infra/OPTIONAL_SETTINGS.md (tuning only: never a secret here).')
param extraAppSettings object = {}

// Key Vault references resolve with the identity in keyVaultReferenceIdentity; the value never enters ARM.
var kvRef = '@Microsoft.KeyVault(VaultName=${keyVaultName};SecretName='

var baseSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: appInsights.properties.ConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
  TASKHUB_NAME: taskHubName
  SYNC_SCHEDULE: syncSchedule
  LANDING_CONTAINER: landingContainerName
  KEY_VAULT_URL: keyVaultUri
  // Entra token as the password (issue 11 section 2): the login is the identity's name, no secret in the DSN.
  BIZ_PG_DSN: 'postgresql://${identityName}@${postgresFqdn}:5432/${postgresDatabase}?sslmode=verify-full'
  // The DSN has no password: the app logs in with its identity's Entra access token (shared/db/entra.py).
  BIZ_PG_AUTH: 'entra'
  // The metric reader logs in as its own role (shared/metrics/series.py): its DSN is a secret the operator stores.
  BIZ_PG_READER_DSN: '${kvRef}pg-reader-dsn)'
  BIZ_LOCAL_DEV: 'false'
  BIZ_ALLOW_LOOPBACK_SOURCES: 'false'
  BIZ_TRUST_APP_SERVICE_AUTH: 'false'
  BIZ_ENTRA_TENANT_ID: entraTenantId
  BIZ_ENTRA_AUDIENCE: entraAudience
  QBO_REDIRECT_URI: 'https://${name}.azurewebsites.net/api/connections/quickbooks/callback'
  // glibc gives each thread that allocates its own malloc arena, and a worker's loads and their readers are many
  // threads: two arenas kept four loads at once at 146 MB instead of about 155 (docs/SCALING.md, bench_load).
  MALLOC_ARENA_MAX: '2'
}

var secretReferences = secretsAsKeyVaultReferences ? {
  SECRET_API_KEY_PEPPER: '${kvRef}api-key-pepper)'
  SECRET_TOKEN_ENCRYPTION_KEY: '${kvRef}token-encryption-key)'
  SECRET_QBO_CLIENT_ID: '${kvRef}qbo-client-id)'
  SECRET_QBO_CLIENT_SECRET: '${kvRef}qbo-client-secret)'
} : {}

// host.json names AzureStorage; app settings override host.json, so the backend is chosen here, not in code.
var durableSettings = durableBackend == 'DurableTaskScheduler' ? {
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__type: 'azureManaged'
  AzureFunctionsJobHost__extensions__durableTask__storageProvider__connectionStringName: 'DURABLE_TASK_SCHEDULER_CONNECTION_STRING'
  DURABLE_TASK_SCHEDULER_CONNECTION_STRING: 'Endpoint=${durableSchedulerEndpoint};Authentication=ManagedIdentity;ClientID=${identityClientId}'
} : {}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: appInsightsName
}

var allSettings = union(baseSettings, secretReferences, durableSettings, extraAppSettings)

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  // checkov:skip=CKV_AZURE_225: Flex Consumption scales out on demand across the region; zone redundancy is a plan option in some regions only
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: { name: 'FC1', tier: 'FlexConsumption' }
  properties: { reserved: true }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  // checkov:skip=CKV_AZURE_222: the HTTP API is public by design; every route but liveness and the OAuth callback authenticates (SECURITY.md)
  // checkov:skip=CKV_AZURE_17: callers authenticate with Entra ID tokens or API keys, not client certificates
  // checkov:skip=CKV_AZURE_212: Flex Consumption scales from zero; always-ready instances are a cost choice (extraAppSettings / plan), not a default
  // checkov:skip=CKV_AZURE_213: Flex Consumption has no App Service health check; /api/health/live and /api/health/ready serve probes
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: { '${identityId}': {} }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityId
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityId
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: { name: 'python', version: '3.11' }
    }
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
      appSettings: [for setting in items(allSettings): { name: setting.key, value: setting.value }]
    }
  }
}

resource ftp 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: { allow: false }
}

resource scm 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: { allow: false }
}

output id string = app.id
output name string = app.name
output defaultHostName string = app.properties.defaultHostName
