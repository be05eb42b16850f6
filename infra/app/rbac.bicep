metadata description = 'Least-privilege role assignments: storage data roles on the storage account, Monitoring Metrics Publisher on Application Insights and Key Vault Secrets User on the vault.'

@description('Required. Name of the storage account (same resource group).')
param storageAccountName string

@description('Required. Name of the Application Insights component (same resource group).')
param applicationInsightsName string

@description('Required. Name of the Key Vault (same resource group).')
param keyVaultName string

@description('Required. Principal (object) ID of the function app\'s user-assigned managed identity.')
@minLength(36)
@maxLength(36)
param identityPrincipalId string

@description('Optional. Principal (object) ID of the deploying user, who gets the storage data roles for local development against Azure. Leave empty to skip.')
@maxLength(36)
param userPrincipalId string = ''

@description('Optional. Principal type of userPrincipalId.')
@allowed([
  'User'
  'ServicePrincipal'
])
param userPrincipalType string = 'User'

// Built-in role definition IDs (identical in every tenant).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
}

// Blob Data Owner: host leases and timer locks, the deployment container and app blobs.
// Queue and Table Data Contributor: triggers, outputs and the app's own data access.
var storageRoleIds = [
  roles.storageBlobDataOwner
  roles.storageQueueDataContributor
  roles.storageTableDataContributor
]

var storageAssignments = concat(
  map(storageRoleIds, roleId => {
    roleId: roleId
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }),
  empty(userPrincipalId)
    ? []
    : map(storageRoleIds, roleId => {
        roleId: roleId
        principalId: userPrincipalId
        principalType: userPrincipalType
      })
)

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource storageRoleAssignments 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for assignment in storageAssignments: {
    name: guid(storage.id, assignment.principalId, assignment.roleId)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', assignment.roleId)
      principalId: assignment.principalId
      principalType: assignment.principalType
    }
  }
]

// Entra ID-authenticated telemetry (Application Insights has local authentication disabled).
resource metricsPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(appInsights.id, identityPrincipalId, roles.monitoringMetricsPublisher)
  scope: appInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}

// Key Vault references (TOKEN_PEPPERS) resolve with this identity.
resource secretsUser 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, identityPrincipalId, roles.keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: identityPrincipalId
    principalType: 'ServicePrincipal'
  }
}
