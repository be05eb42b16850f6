metadata description = 'Gatehouse: resource group, managed identity, storage, monitoring, Key Vault and the Flex Consumption function app. Deployed by `azd up` or `az deployment sub create`.'

targetScope = 'subscription'

// All modules are local files under ./app. Azure Verified Modules from the public Bicep registry
// (br/public:avm/...) are deliberately not used: that registry is not reachable from the machines that
// build and lint these templates, and `bicep build` / `bicep lint` must run offline in CI. The local
// modules apply the same settings the AVM modules recommend for these resources.

// ---------------------------------------------------------------------------------------------------
// Parameters
// ---------------------------------------------------------------------------------------------------

@description('Required. Name of the environment (azd environment name); used in the resource group name and to derive unique resource names.')
@minLength(1)
@maxLength(64)
param environmentName string

@description('Required. Azure region for all resources. It must offer the Flex Consumption plan (az functionapp list-flexconsumption-locations).')
@minLength(1)
@metadata({
  azd: {
    type: 'location'
  }
})
param location string

@description('Optional. Principal (object) ID of the deploying user; it gets the storage data roles so developers can reach the same storage. Leave empty to skip.')
@maxLength(36)
param principalId string = ''

@description('Optional. Principal type of principalId: User for a person, ServicePrincipal when a pipeline identity deploys.')
@allowed([
  'User'
  'ServicePrincipal'
])
param principalType string = 'User'

@description('Optional. Resource group name. Default: rg-<environmentName>.')
@maxLength(90)
param resourceGroupName string = ''

@description('Required. Issuer (iss) of the bearer tokens callers present, e.g. https://login.microsoftonline.com/<tenant-id>/v2.0.')
@minLength(9)
@maxLength(512)
param authIssuer string

@description('Required. Audience (aud) the bearer tokens must carry: the API app registration\'s client ID or its api:// application ID URI.')
@minLength(1)
@maxLength(512)
param authAudience string

@description('Required. HTTPS URL of the JSON Web Key Set that signs caller tokens, e.g. https://login.microsoftonline.com/<tenant-id>/discovery/v2.0/keys.')
@minLength(9)
@maxLength(512)
param authJwksUri string

@description('Optional. Client ID of the portal\'s single-page application registration in Microsoft Entra ID (redirect URI: the PORTAL_REDIRECT_URI output, platform "Single-page application"; API permissions: the API\'s vso.pats, vso.pats_manage, vso.tokenadministration and vso.auditlog scopes). Empty: the portal shows no sign-in.')
@maxLength(36)
param portalClientId string = ''

@description('Required. Token pepper list stored in Key Vault as secret token-peppers: <version>:<base64 of at least 32 bytes>[,<version>:<base64>...], first entry current. Example: v1:$(openssl rand -base64 32).')
@secure()
@minLength(46)
@maxLength(8192)
param tokenPeppers string

@description('Optional. Node.js version of the Functions runtime.')
@allowed([
  '20'
  '22'
])
param functionRuntimeVersion string = '22'

@description('Optional. Maximum number of instances the function app scales out to (Flex Consumption: 40-1000).')
@minValue(40)
@maxValue(1000)
param maximumInstanceCount int = 100

@description('Optional. Memory of each function app instance, in MB.')
@allowed([
  512
  2048
  4096
])
param instanceMemoryMB int = 2048

@description('Optional. NCRONTAB schedule (six fields, with seconds) of the token lifecycle sweep (LIFECYCLE_SCHEDULE).')
@minLength(11)
@maxLength(128)
param lifecycleSchedule string = '0 */5 * * * *'

@description('Optional. NCRONTAB schedule (six fields, with seconds) of the access grant review (GRANT_REVIEW_SCHEDULE).')
@minLength(11)
@maxLength(128)
param grantReviewSchedule string = '0 */15 * * * *'

@description('Optional. NCRONTAB schedule (six fields, with seconds) of the audit retention purge (AUDIT_RETENTION_SCHEDULE).')
@minLength(11)
@maxLength(128)
param auditRetentionSchedule string = '0 30 2 * * *'

@description('Optional. Days each audit checkpoint stays write-once (no overwrite, no delete) in the audit-checkpoints container. Keep it at least the longest audit retention any organization sets (30-3650 days). The policy is created unlocked; lock it in production.')
@minValue(1)
@maxValue(146000)
param auditCheckpointImmutabilityDays int = 365

@description('Optional. Storage account SKU.')
@allowed([
  'Standard_LRS'
  'Standard_ZRS'
  'Standard_GRS'
  'Standard_GZRS'
  'Standard_RAGRS'
  'Standard_RAGZRS'
])
param storageSkuName string = 'Standard_LRS'

@description('Optional. Days that Log Analytics keeps logs and telemetry.')
@minValue(30)
@maxValue(730)
param logRetentionInDays int = 30

@description('Optional. Key Vault purge protection. Keep true in production; false lets a deleted development environment release its vault name at once.')
param keyVaultEnablePurgeProtection bool = true

@description('Optional. Days a deleted Key Vault or secret can be recovered.')
@minValue(7)
@maxValue(90)
param keyVaultSoftDeleteRetentionInDays int = 90

// ---------------------------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------------------------

var abbrs = loadJsonContent('abbreviations.json')

// The tables, queues and blob containers the app uses: keep infra/app-resources.json in step with
// shared/storage/names.ts (npm run test:infra fails when they differ); `immutableContainers` are the
// write-once ones (IMMUTABLE_CONTAINERS), created with an immutability policy. Every queue also gets its
// <queue>-poison queue, where the Functions host moves messages that keep failing.
var appResources = loadJsonContent('app-resources.json')
var storageQueueNames = flatten(map(appResources.queues, queue => [queue, '${queue}-poison']))

// Node options of the worker (also what `npm run bench` starts Gatehouse with). V8's young generation
// capped at 4 MB per semi-space: under load the default lets the heap balloon by tens of MB before
// scavenges catch up, at no gain in throughput for this request mix.
var nodeRuntime = loadJsonContent('node-runtime.json')

var resourceToken = toLower(uniqueString(subscription().id, environmentName, location))
var tags = {
  'azd-env-name': environmentName
}
var functionAppName = '${abbrs.webSitesFunctions}${resourceToken}'
var storageAccountName = '${abbrs.storageStorageAccounts}${resourceToken}'
var applicationInsightsName = '${abbrs.insightsComponents}${resourceToken}'
var keyVaultName = '${abbrs.keyVaultVaults}${resourceToken}'
var deploymentContainerName = 'app-package-${take(functionAppName, 32)}-${take(toLower(uniqueString(functionAppName, resourceToken)), 7)}'
var pepperSecretName = 'token-peppers'

// ---------------------------------------------------------------------------------------------------
// Resources
// ---------------------------------------------------------------------------------------------------

resource rg 'Microsoft.Resources/resourceGroups@2024-03-01' = {
  name: empty(resourceGroupName) ? '${abbrs.resourcesResourceGroups}${environmentName}' : resourceGroupName
  location: location
  tags: tags
}

module identity 'app/identity.bicep' = {
  scope: rg
  params: {
    name: '${abbrs.managedIdentityUserAssignedIdentities}${resourceToken}'
    location: location
    tags: tags
  }
}

module monitoring 'app/monitoring.bicep' = {
  scope: rg
  params: {
    logAnalyticsName: '${abbrs.operationalInsightsWorkspaces}${resourceToken}'
    applicationInsightsName: applicationInsightsName
    location: location
    retentionInDays: logRetentionInDays
    tags: tags
  }
}

module storage 'app/storage.bicep' = {
  scope: rg
  params: {
    name: storageAccountName
    location: location
    skuName: storageSkuName
    deploymentContainerName: deploymentContainerName
    containerNames: appResources.containers
    immutableContainerNames: appResources.immutableContainers
    immutabilityPeriodInDays: auditCheckpointImmutabilityDays
    tableNames: appResources.tables
    queueNames: storageQueueNames
    tags: tags
  }
}

module keyVault 'app/key-vault.bicep' = {
  scope: rg
  params: {
    name: keyVaultName
    location: location
    enablePurgeProtection: keyVaultEnablePurgeProtection
    softDeleteRetentionInDays: keyVaultSoftDeleteRetentionInDays
    pepperSecretName: pepperSecretName
    tokenPeppers: tokenPeppers
    tags: tags
  }
}

module rbac 'app/rbac.bicep' = {
  scope: rg
  // Names are passed as values known up front; the dependencies on the resources are explicit.
  dependsOn: [
    storage
    monitoring
    keyVault
  ]
  params: {
    storageAccountName: storageAccountName
    applicationInsightsName: applicationInsightsName
    keyVaultName: keyVaultName
    // A new identity's principal ID is known only once it exists, and the role assignment names
    // are guid(scope, principalId, role), so What-If cannot predict those names in advance.
    #disable-next-line what-if-short-circuiting
    identityPrincipalId: identity.outputs.principalId
    userPrincipalId: principalId
    userPrincipalType: principalType
  }
}

module functionApp 'app/function-app.bicep' = {
  scope: rg
  params: {
    name: functionAppName
    planName: '${abbrs.webServerFarms}${resourceToken}'
    location: location
    tags: tags
    serviceName: 'api'
    identityResourceId: identity.outputs.resourceId
    identityClientId: identity.outputs.clientId
    storageBlobEndpoint: storage.outputs.blobEndpoint
    storageQueueEndpoint: storage.outputs.queueEndpoint
    storageTableEndpoint: storage.outputs.tableEndpoint
    deploymentContainerName: deploymentContainerName
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    runtimeVersion: functionRuntimeVersion
    maximumInstanceCount: maximumInstanceCount
    instanceMemoryMB: instanceMemoryMB
    // Every setting in REQUIRED_APP_SETTINGS (shared/config.ts), plus the timer schedules.
    appSettings: {
      STORAGE__blobServiceUri: storage.outputs.blobEndpoint
      STORAGE__queueServiceUri: storage.outputs.queueEndpoint
      STORAGE__tableServiceUri: storage.outputs.tableEndpoint
      STORAGE__credential: 'managedidentity'
      STORAGE__clientId: identity.outputs.clientId
      AUTH_ISSUER: authIssuer
      AUTH_AUDIENCE: authAudience
      AUTH_JWKS_URI: authJwksUri
      TOKEN_PEPPERS: '@Microsoft.KeyVault(SecretUri=${keyVault.outputs.pepperSecretUri})'
      LIFECYCLE_SCHEDULE: lifecycleSchedule
      GRANT_REVIEW_SCHEDULE: grantReviewSchedule
      AUDIT_RETENTION_SCHEDULE: auditRetentionSchedule
      NODE_OPTIONS: nodeRuntime.nodeOptions
      PORTAL_CLIENT_ID: portalClientId
    }
  }
  // The host needs its storage, telemetry and Key Vault roles when it first starts.
  dependsOn: [
    rbac
  ]
}

// ---------------------------------------------------------------------------------------------------
// Outputs (azd stores them in the environment; none of them is a secret)
// ---------------------------------------------------------------------------------------------------

@description('Azure region of the deployment.')
output AZURE_LOCATION string = location

@description('Tenant of the subscription.')
output AZURE_TENANT_ID string = tenant().tenantId

@description('Resource group holding every resource.')
output AZURE_RESOURCE_GROUP string = rg.name

@description('Name of the function app.')
output AZURE_FUNCTION_NAME string = functionApp.outputs.name

@description('Name of the function app that azd deploys service api to.')
output SERVICE_API_NAME string = functionApp.outputs.name

@description('Base URL of the function app.')
output SERVICE_API_URI string = 'https://${functionApp.outputs.defaultHostName}'

@description('Redirect URI to register on the portal\'s single-page application registration (Microsoft Entra ID).')
output PORTAL_REDIRECT_URI string = 'https://${functionApp.outputs.defaultHostName}/_portal/'

@description('Client ID of the function app\'s user-assigned managed identity.')
output AZURE_CLIENT_ID string = identity.outputs.clientId

@description('Name of the storage account.')
output AZURE_STORAGE_ACCOUNT_NAME string = storage.outputs.name

@description('Blob service endpoint.')
output AZURE_STORAGE_BLOB_ENDPOINT string = storage.outputs.blobEndpoint

@description('Queue service endpoint.')
output AZURE_STORAGE_QUEUE_ENDPOINT string = storage.outputs.queueEndpoint

@description('Table service endpoint.')
output AZURE_STORAGE_TABLE_ENDPOINT string = storage.outputs.tableEndpoint

@description('Name of the Key Vault holding the token-peppers secret.')
output AZURE_KEY_VAULT_NAME string = keyVault.outputs.name

@description('URI of the Key Vault.')
output AZURE_KEY_VAULT_ENDPOINT string = keyVault.outputs.uri

@description('Application Insights connection string (not a credential: local authentication is disabled).')
output APPLICATIONINSIGHTS_CONNECTION_STRING string = monitoring.outputs.connectionString
