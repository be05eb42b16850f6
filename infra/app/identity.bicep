metadata description = 'User-assigned managed identity that the function app uses for storage, Key Vault references and telemetry.'

@description('Required. Name of the user-assigned managed identity.')
@minLength(3)
@maxLength(128)
param name string

@description('Required. Azure region of the identity.')
param location string

@description('Optional. Tags applied to the identity.')
param tags object = {}

resource identity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = {
  name: name
  location: location
  tags: tags
}

@description('Resource ID of the identity.')
output resourceId string = identity.id

@description('Name of the identity.')
output name string = identity.name

@description('Object (principal) ID of the identity, used for role assignments.')
output principalId string = identity.properties.principalId

@description('Client ID of the identity, used by the Functions host and the Azure SDK (AZURE_CLIENT_ID).')
output clientId string = identity.properties.clientId
