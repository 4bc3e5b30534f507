// The storage account behind the Functions host (AzureWebJobsStorage), the Durable Task hub on the Azure Storage
// backend, the Flex Consumption deployment package and the landing zone. Reached only through Entra identities.
param name string
param location string
param tags object = {}
param landingContainerName string = 'landing'
param deploymentContainerName string = 'app-package'
@description('Landing blobs are raw source pages kept for replay; after this many days they are deleted.')
param landingRetentionDays int = 30
@description('Replication: LRS by default (landed pages are replayable); Standard_ZRS or Standard_GZRS where the region offers them.')
param skuName string = 'Standard_LRS'

resource account 'Microsoft.Storage/storageAccounts@2023-05-01' = {
  // checkov:skip=CKV_AZURE_35: no virtual network in these templates: access is by managed identity and RBAC only (shared keys off); private endpoints are the hardening step docs/deployment.md describes
  // checkov:skip=CKV_AZURE_59: no virtual network in these templates: access is by managed identity and RBAC only (shared keys off); private endpoints are the hardening step docs/deployment.md describes
  // checkov:skip=CKV_AZURE_206: landed pages are a replayable cache of the sources (a lost blob is fetched again); set skuName to a ZRS/GZRS SKU where the region offers it
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: { name: skuName }
  properties: {
    allowSharedKeyAccess: false
    allowBlobPublicAccess: false
    defaultToOAuthAuthentication: true
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    deleteRetentionPolicy: { enabled: true, days: 7 }
  }
}

resource landing 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: landingContainerName
  properties: { publicAccess: 'None' }
}

resource deployment 'Microsoft.Storage/storageAccounts/blobServices/containers@2023-05-01' = {
  parent: blobService
  name: deploymentContainerName
  properties: { publicAccess: 'None' }
}

resource lifecycle 'Microsoft.Storage/storageAccounts/managementPolicies@2023-05-01' = {
  parent: account
  name: 'default'
  properties: {
    policy: {
      rules: [
        {
          name: 'expire-landing'
          enabled: true
          type: 'Lifecycle'
          definition: {
            filters: {
              blobTypes: [ 'blockBlob' ]
              prefixMatch: [ '${landingContainerName}/' ]
            }
            actions: {
              baseBlob: {
                tierToCool: { daysAfterModificationGreaterThan: 7 }
                delete: { daysAfterModificationGreaterThan: landingRetentionDays }
              }
            }
          }
        }
      ]
    }
  }
}

output id string = account.id
output name string = account.name
output blobEndpoint string = account.properties.primaryEndpoints.blob
output queueEndpoint string = account.properties.primaryEndpoints.queue
output tableEndpoint string = account.properties.primaryEndpoints.table
output landingContainerName string = landing.name
output deploymentContainerName string = deployment.name
