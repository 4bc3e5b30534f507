// Key Vault with Azure RBAC (no access policies) and purge protection. Secrets are created by the operator
// (docs/deployment.md: az keyvault secret set ...), never by the template, so no value passes through a deployment.
param name string
param location string
param tags object = {}
param tenantId string = subscription().tenantId
param softDeleteRetentionInDays int = 90

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  // checkov:skip=CKV_AZURE_109: no virtual network in these templates: access is by managed identity and RBAC only (shared keys off); private endpoints are the hardening step docs/deployment.md describes
  // checkov:skip=CKV_AZURE_189: no virtual network in these templates: access is by managed identity and RBAC only (shared keys off); private endpoints are the hardening step docs/deployment.md describes
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenantId
    sku: { family: 'A', name: 'standard' }
    enableRbacAuthorization: true
    enablePurgeProtection: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    publicNetworkAccess: 'Enabled'
  }
}

output id string = vault.id
output name string = vault.name
output uri string = vault.properties.vaultUri
