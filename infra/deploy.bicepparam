// Parameters for a plain ARM deployment without azd, read from the same environment variables
// that azd uses (see docs/operations.md):
//   az deployment sub create --location "$AZURE_LOCATION" --parameters infra/deploy.bicepparam
// A required variable that is not set stops the compilation with an error naming it.
// Optional parameters keep their defaults from main.bicep.
using 'main.bicep'

param environmentName = readEnvironmentVariable('AZURE_ENV_NAME')
param location = readEnvironmentVariable('AZURE_LOCATION')
param principalId = readEnvironmentVariable('AZURE_PRINCIPAL_ID', '')
param principalType = readEnvironmentVariable('AZURE_PRINCIPAL_TYPE', 'User')
param authIssuer = readEnvironmentVariable('AUTH_ISSUER')
param authAudience = readEnvironmentVariable('AUTH_AUDIENCE')
param authJwksUri = readEnvironmentVariable('AUTH_JWKS_URI')
param tokenPeppers = readEnvironmentVariable('TOKEN_PEPPERS')
param portalClientId = readEnvironmentVariable('PORTAL_CLIENT_ID', '')
