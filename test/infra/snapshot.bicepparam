// Parameters for the offline deployment snapshot that test/infra/*.test.ts inspects
// (tools/bicep/run.sh copies this file to .bicep/out/ and runs `bicep snapshot` there).
// Values are fixtures, not real settings; the pepper below is a throwaway test value.
using '../../infra/main.bicep'

param environmentName = 'gatehouse-ci'
param location = 'swedencentral'
param principalId = '11111111-2222-3333-4444-555555555555'
param authIssuer = 'https://login.microsoftonline.com/00000000-0000-0000-0000-00000000aaaa/v2.0'
param authAudience = 'api://gatehouse-ci'
param authJwksUri = 'https://login.microsoftonline.com/00000000-0000-0000-0000-00000000aaaa/discovery/v2.0/keys'
param tokenPeppers = readEnvironmentVariable('GATEHOUSE_TEST_TOKEN_PEPPERS')
