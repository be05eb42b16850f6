metadata description = 'Flex Consumption (FC1, Linux) plan and Node.js function app running as a user-assigned managed identity, with identity-based storage connections.'

@description('Required. Name of the function app.')
@minLength(2)
@maxLength(60)
param name string

@description('Required. Name of the Flex Consumption plan.')
@minLength(1)
@maxLength(60)
param planName string

@description('Required. Azure region of the plan and the app.')
param location string

@description('Optional. Tags applied to the plan and the app. The app also gets azd-service-name.')
param tags object = {}

@description('Required. Service name azd deploys to this app (tag azd-service-name).')
param serviceName string

@description('Required. Resource ID of the user-assigned managed identity.')
param identityResourceId string

@description('Required. Client ID of the user-assigned managed identity.')
@minLength(36)
@maxLength(36)
param identityClientId string

@description('Required. Blob service endpoint of the host storage account.')
param storageBlobEndpoint string

@description('Required. Queue service endpoint of the host storage account.')
param storageQueueEndpoint string

@description('Required. Table service endpoint of the host storage account.')
param storageTableEndpoint string

@description('Required. Blob container the deployment package is uploaded to.')
param deploymentContainerName string

@description('Required. Application Insights connection string.')
param applicationInsightsConnectionString string

@description('Optional. Node.js version of the Functions runtime.')
@allowed([
  '20'
  '22'
])
param runtimeVersion string = '22'

@description('Optional. Maximum number of instances the app scales out to.')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional. Memory of each instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. App-specific settings, merged over the host settings this module sets.')
param appSettings object = {}

// Identity-based host storage (no AzureWebJobsStorage connection string: an exact-match setting would
// take precedence over these), the identity the Azure SDK picks up, and Entra ID-authenticated telemetry.
// FUNCTIONS_WORKER_RUNTIME, FUNCTIONS_EXTENSION_VERSION and WEBSITE_RUN_FROM_PACKAGE are not set: Flex
// Consumption takes the runtime from functionAppConfig and refuses those settings.
var hostSettings = {
  AzureWebJobsStorage__blobServiceUri: storageBlobEndpoint
  AzureWebJobsStorage__queueServiceUri: storageQueueEndpoint
  AzureWebJobsStorage__tableServiceUri: storageTableEndpoint
  AzureWebJobsStorage__credential: 'managedidentity'
  AzureWebJobsStorage__clientId: identityClientId
  AZURE_CLIENT_ID: identityClientId
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
  APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${identityClientId};Authorization=AAD'
}

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    name: 'FC1'
    tier: 'FlexConsumption'
  }
  properties: {
    reserved: true
  }
}

resource site 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: union(tags, { 'azd-service-name': serviceName })
  kind: 'functionapp,linux'
  identity: {
    type: 'UserAssigned'
    userAssignedIdentities: {
      '${identityResourceId}': {}
    }
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    keyVaultReferenceIdentity: identityResourceId
    siteConfig: {
      minTlsVersion: '1.2'
      scmMinTlsVersion: '1.2'
      ftpsState: 'Disabled'
      appSettings: map(items(union(hostSettings, appSettings)), setting => {
        name: setting.key
        value: setting.value
      })
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: '${storageBlobEndpoint}${deploymentContainerName}'
          authentication: {
            type: 'UserAssignedIdentity'
            userAssignedIdentityResourceId: identityResourceId
          }
        }
      }
      runtime: {
        name: 'node'
        version: runtimeVersion
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
    }
  }
}

@description('Name of the function app.')
output name string = site.name

@description('Resource ID of the function app.')
output resourceId string = site.id

@description('Default host name of the function app.')
output defaultHostName string = site.properties.defaultHostName
