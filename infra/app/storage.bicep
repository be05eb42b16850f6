metadata description = 'Storage account for the Functions host and the app: Entra ID access only (no shared keys), with the deployment container and the app tables, queues and containers pre-created, write-once containers under a time-based immutability policy.'

@description('Required. Name of the storage account (3-24 lowercase letters and digits).')
@minLength(3)
@maxLength(24)
param name string

@description('Required. Azure region of the storage account.')
param location string

@description('Optional. Storage account SKU.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param skuName string = 'Standard_LRS'

@description('Required. Blob container that Flex Consumption deploys the app package from.')
@minLength(3)
@maxLength(63)
param deploymentContainerName string

@description('Optional. Blob containers the app uses.')
param containerNames string[] = []

@description('Optional. Blob containers the app only ever adds blobs to: each gets a container-level time-based immutability policy, so no blob in it can be overwritten or deleted before it is immutabilityPeriodInDays old.')
param immutableContainerNames string[] = []

@description('Optional. Days a blob in an immutable container stays write-once after it is created.')
@minValue(1)
@maxValue(146000)
param immutabilityPeriodInDays int = 365

@description('Optional. Tables the app uses (alphanumeric names).')
param tableNames string[] = []

@description('Optional. Queues the app uses, including their -poison queues.')
param queueNames string[] = []

@description('Optional. Tags applied to the storage account.')
param tags object = {}

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: name
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: skuName
  }
  properties: {
    accessTier: 'Hot'
    // Identity-based access only: account keys and SAS tokens signed with them are refused.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
    allowBlobPublicAccess: false
    allowCrossTenantReplication: false
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource blobService 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: storage
  name: 'default'
}

resource containers 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = [
  for containerName in union([deploymentContainerName], containerNames): {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

resource immutableContainers 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = [
  for containerName in immutableContainerNames: {
    parent: blobService
    name: containerName
    properties: {
      publicAccess: 'None'
    }
  }
]

// Container-level WORM: blobs can be created and read, never overwritten or deleted within the period
// (not even with a data owner role). Deployed unlocked, as ARM creates every policy; locking it (an
// action, not a property: az storage container immutability-policy lock) also stops anyone with
// management rights on the account from shortening or removing it.
resource immutabilityPolicies 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies@2024-01-01' = [
  for (containerName, i) in immutableContainerNames: {
    parent: immutableContainers[i]
    name: 'default'
    properties: {
      immutabilityPeriodSinceCreationInDays: immutabilityPeriodInDays
      allowProtectedAppendWrites: false
      allowProtectedAppendWritesAll: false
    }
  }
]

resource tableService 'Microsoft.Storage/storageAccounts/tableServices@2024-01-01' = {
  parent: storage
  name: 'default'
}

resource tables 'Microsoft.Storage/storageAccounts/tableServices/tables@2024-01-01' = [
  for tableName in tableNames: {
    parent: tableService
    name: tableName
  }
]

resource queueService 'Microsoft.Storage/storageAccounts/queueServices@2024-01-01' = {
  parent: storage
  name: 'default'
}

resource queues 'Microsoft.Storage/storageAccounts/queueServices/queues@2024-01-01' = [
  for queueName in queueNames: {
    parent: queueService
    name: queueName
  }
]

@description('Name of the storage account.')
output name string = storage.name

@description('Resource ID of the storage account.')
output resourceId string = storage.id

@description('Blob service endpoint.')
output blobEndpoint string = storage.properties.primaryEndpoints.blob

@description('Queue service endpoint.')
output queueEndpoint string = storage.properties.primaryEndpoints.queue

@description('Table service endpoint.')
output tableEndpoint string = storage.properties.primaryEndpoints.table
