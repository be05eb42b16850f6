metadata description = 'Key Vault (Azure RBAC, soft delete) holding the token pepper list that the app reads through a Key Vault reference.'

@description('Required. Name of the Key Vault (3-24 characters).')
@minLength(3)
@maxLength(24)
param name string

@description('Required. Azure region of the Key Vault.')
param location string

@description('Optional. Turn on purge protection. Recommended for production; it cannot be turned off again, and the vault name stays reserved for the soft-delete retention period after deletion.')
param enablePurgeProtection bool = true

@description('Optional. Days a deleted vault or secret can be recovered.')
@minValue(7)
@maxValue(90)
param softDeleteRetentionInDays int = 90

@description('Required. Name of the secret holding the token pepper list.')
@minLength(1)
@maxLength(127)
param pepperSecretName string

@description('Required. Token pepper list: <version>:<base64 of at least 32 bytes>[,<version>:<base64>...]; the first entry is the current one.')
@secure()
@minLength(46)
param tokenPeppers string

@description('Optional. Tags applied to the Key Vault.')
param tags object = {}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: tenant().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: softDeleteRetentionInDays
    // The service refuses an explicit false once purge protection has been on, so leave it unset instead.
    enablePurgeProtection: enablePurgeProtection ? true : null
    enabledForDeployment: false
    enabledForDiskEncryption: false
    enabledForTemplateDeployment: false
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource pepperSecret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = {
  parent: vault
  name: pepperSecretName
  properties: {
    value: tokenPeppers
    contentType: 'text/plain; format=version:base64[,version:base64]'
    attributes: {
      enabled: true
    }
  }
}

@description('Name of the Key Vault.')
output name string = vault.name

@description('Resource ID of the Key Vault.')
output resourceId string = vault.id

@description('Vault URI, e.g. https://<name>.vault.azure.net/.')
output uri string = vault.properties.vaultUri

@description('Version-less URI of the pepper secret, for a Key Vault reference that follows new versions.')
output pepperSecretUri string = pepperSecret.properties.secretUri
