import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { REQUIRED_APP_SETTINGS, STORAGE_CONNECTION } from '../../shared/config.js';
import { CONTAINERS, IMMUTABLE_CONTAINERS, poisonQueueName, QUEUES, TABLES } from '../../shared/storage/names.js';
import { parseNcrontab } from '../../shared/runtime/ncrontab.js';
import { declarations } from '../../functions/declarations.js';
import { armGuid, leafName, loadSnapshot, type PredictedResource, prop, resourcesOfType, ROOT, single, snapshotFixture } from './arm.js';

/**
 * Checks on the deployment snapshot: the compiled template evaluated offline by `bicep snapshot`
 * with test/infra/snapshot.bicepparam (see tools/bicep/run.sh).
 */

const snapshot = loadSnapshot();
const fixture = snapshotFixture();
const abbreviations = JSON.parse(readFileSync(join(ROOT, 'infra', 'abbreviations.json'), 'utf8')) as Record<string, string>;

const ROLE = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b',
  storageQueueDataContributor: '974c5e8b-45b9-4653-ba55-5f855dd0fb88',
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3',
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb',
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6',
} as const;

const resourceGroup = single(snapshot, 'Microsoft.Resources/resourceGroups');
const identity = single(snapshot, 'Microsoft.ManagedIdentity/userAssignedIdentities');
const storage = single(snapshot, 'Microsoft.Storage/storageAccounts');
const appInsights = single(snapshot, 'Microsoft.Insights/components');
const workspace = single(snapshot, 'Microsoft.OperationalInsights/workspaces');
const vault = single(snapshot, 'Microsoft.KeyVault/vaults');
const plan = single(snapshot, 'Microsoft.Web/serverfarms');
const site = single(snapshot, 'Microsoft.Web/sites');

/** The ARM expression the snapshot keeps for a property of the identity known only at deploy time. */
const identityReference = (property: 'clientId' | 'principalId') => `reference('${identity.id}', '${identity.apiVersion}').${property}`;

const appSettings = new Map((prop(site, 'siteConfig', 'appSettings') as { name: string; value: unknown }[]).map(({ name, value }) => [name, value]));

describe('deployment snapshot', () => {
  it('evaluates without diagnostics', () => {
    expect(snapshot.diagnostics).toEqual([]);
  });

  it('names resources from abbreviations.json and one resource token, tagged with the azd environment', () => {
    expect(resourceGroup.name).toBe(`${abbreviations.resourcesResourceGroups}${fixture.environmentName}`);
    const token = storage.name.slice((abbreviations.storageStorageAccounts ?? '').length);
    expect(token).toMatch(/^[a-z0-9]{13}$/);
    const expected: [PredictedResource, string | undefined][] = [
      [identity, abbreviations.managedIdentityUserAssignedIdentities],
      [storage, abbreviations.storageStorageAccounts],
      [appInsights, abbreviations.insightsComponents],
      [workspace, abbreviations.operationalInsightsWorkspaces],
      [vault, abbreviations.keyVaultVaults],
      [plan, abbreviations.webServerFarms],
      [site, abbreviations.webSitesFunctions],
    ];
    for (const [resource, prefix] of expected) {
      expect(resource.name, resource.type).toBe(`${prefix}${token}`);
      expect(resource.tags?.['azd-env-name'], resource.type).toBe(fixture.environmentName);
      expect(resource.location, resource.type).toBe(fixture.location);
    }
  });
});

describe('storage', () => {
  it('accepts Entra ID only, over HTTPS with TLS 1.2, with no public blobs', () => {
    expect(storage.properties).toMatchObject({
      allowSharedKeyAccess: false,
      defaultToOAuthAuthentication: true,
      allowBlobPublicAccess: false,
      minimumTlsVersion: 'TLS1_2',
      supportsHttpsTrafficOnly: true,
    });
    expect(storage.kind).toBe('StorageV2');
  });

  it('creates every table of shared/storage/names.ts', () => {
    const tables = resourcesOfType(snapshot, 'Microsoft.Storage/storageAccounts/tableServices/tables').map(leafName);
    for (const table of Object.values(TABLES)) expect(tables, table).toContain(table);
  });

  it('creates every queue of shared/storage/names.ts and its poison queue', () => {
    const queues = resourcesOfType(snapshot, 'Microsoft.Storage/storageAccounts/queueServices/queues').map(leafName);
    for (const queue of Object.values(QUEUES)) {
      expect(queues, queue).toContain(queue);
      expect(queues, poisonQueueName(queue)).toContain(poisonQueueName(queue));
    }
    expect(queues).toHaveLength(Object.values(QUEUES).length * 2);
  });

  it('creates the app containers and the private deployment container the site deploys from', () => {
    const containers = resourcesOfType(snapshot, 'Microsoft.Storage/storageAccounts/blobServices/containers');
    const names = containers.map(leafName);
    for (const container of Object.values(CONTAINERS)) expect(names, container).toContain(container);
    for (const container of containers) expect(prop(container, 'publicAccess'), container.name).toBe('None');

    const deploymentStorage = prop(site, 'functionAppConfig', 'deployment', 'storage') as Record<string, unknown>;
    const deploymentContainer = names.find((name) => name.startsWith('app-package-'));
    expect(deploymentContainer).toBeDefined();
    expect(deploymentStorage.type).toBe('blobContainer');
    expect(String(deploymentStorage.value)).toContain(`'${deploymentContainer}'`);
    expect(deploymentStorage.authentication).toEqual({
      type: 'UserAssignedIdentity',
      userAssignedIdentityResourceId: identity.id,
    });
  });

  it('keeps the audit checkpoint container write-once (container-level time-based immutability), and no other', () => {
    const containers = resourcesOfType(snapshot, 'Microsoft.Storage/storageAccounts/blobServices/containers');
    const policies = resourcesOfType(snapshot, 'Microsoft.Storage/storageAccounts/blobServices/containers/immutabilityPolicies');
    expect(IMMUTABLE_CONTAINERS).toContain(CONTAINERS.auditCheckpoints);
    // Every other app container must stay deletable: retention removes audit payloads, packages are replaced.
    expect(policies.map((policy) => policy.name).sort()).toEqual(IMMUTABLE_CONTAINERS.map((name) => `${storage.name}/default/${name}/default`).sort());
    for (const name of IMMUTABLE_CONTAINERS) {
      const container = containers.find((candidate) => candidate.name === `${storage.name}/default/${name}`);
      expect(container, name).toBeDefined();
      expect(prop(container!, 'publicAccess'), name).toBe('None');
      const policy = policies.find((candidate) => candidate.name === `${container!.name}/default`)!;
      expect(policy.properties, name).toEqual({
        immutabilityPeriodSinceCreationInDays: 365,
        allowProtectedAppendWrites: false,
        allowProtectedAppendWritesAll: false,
      });
    }
  });

  it('lets the app identity write checkpoints: a blob data role on the account covers the container', () => {
    const identityBlobRoles = resourcesOfType(snapshot, 'Microsoft.Authorization/roleAssignments').filter(
      (assignment) =>
        prop(assignment, 'principalId') === `[${identityReference('principalId')}]` &&
        String(prop(assignment, 'roleDefinitionId')).endsWith(`/${ROLE.storageBlobDataOwner}`),
    );
    expect(identityBlobRoles).toHaveLength(1);
    // Scoped to the storage account, hence to every container in it (the immutability policy, not the role, keeps checkpoints).
    expect(identityBlobRoles[0]!.id.startsWith(`${storage.id}/providers/`) || identityBlobRoles[0]!.id.includes(`'${storage.id}'`)).toBe(true);
  });

  it('never reads account keys or builds connection strings', () => {
    const text = JSON.stringify(snapshot);
    expect(text).not.toMatch(/listKeys|listAccountSas|listServiceSas|AccountKey=|SharedAccessSignature=/);
  });
});

describe('function app', () => {
  it('runs on a Linux Flex Consumption (FC1) plan', () => {
    expect(plan.sku).toMatchObject({ name: 'FC1', tier: 'FlexConsumption' });
    expect(plan.properties).toMatchObject({ reserved: true });
    expect(site.kind).toBe('functionapp,linux');
    expect(prop(site, 'serverFarmId')).toBe(plan.id);
  });

  it('runs Node.js 22 by default', () => {
    expect(prop(site, 'functionAppConfig', 'runtime')).toEqual({ name: 'node', version: '22' });
  });

  it('runs as the user-assigned identity, also for Key Vault references', () => {
    expect(site.identity).toEqual({ type: 'UserAssigned', userAssignedIdentities: { [identity.id]: {} } });
    expect(prop(site, 'keyVaultReferenceIdentity')).toBe(identity.id);
  });

  it('serves HTTPS only with TLS 1.2 and no FTP', () => {
    expect(prop(site, 'httpsOnly')).toBe(true);
    expect(prop(site, 'siteConfig', 'minTlsVersion')).toBe('1.2');
    expect(prop(site, 'siteConfig', 'ftpsState')).toBe('Disabled');
  });

  it('is tagged for azd as service api', () => {
    expect(site.tags).toMatchObject({ 'azd-service-name': 'api', 'azd-env-name': fixture.environmentName });
  });

  it('has every setting shared/config.ts requires', () => {
    for (const name of REQUIRED_APP_SETTINGS) expect([...appSettings.keys()], name).toContain(name);
  });

  it('connects to storage through the identity, for the host and for the app', () => {
    const clientId = `[${identityReference('clientId')}]`;
    const endpoint = (service: string) => `[reference('${storage.id}', '${storage.apiVersion}').primaryEndpoints.${service}]`;
    for (const prefix of ['AzureWebJobsStorage', STORAGE_CONNECTION]) {
      expect(appSettings.get(`${prefix}__blobServiceUri`), prefix).toBe(endpoint('blob'));
      expect(appSettings.get(`${prefix}__queueServiceUri`), prefix).toBe(endpoint('queue'));
      expect(appSettings.get(`${prefix}__tableServiceUri`), prefix).toBe(endpoint('table'));
      expect(appSettings.get(`${prefix}__credential`), prefix).toBe('managedidentity');
      expect(appSettings.get(`${prefix}__clientId`), prefix).toBe(clientId);
    }
    expect(appSettings.get('AZURE_CLIENT_ID')).toBe(clientId);
  });

  it('sends telemetry with Entra ID authentication', () => {
    expect(appSettings.get('APPLICATIONINSIGHTS_CONNECTION_STRING')).toBe(`[reference('${appInsights.id}', '${appInsights.apiVersion}').ConnectionString]`);
    expect(appSettings.get('APPLICATIONINSIGHTS_AUTHENTICATION_STRING')).toBe(`[format('ClientId={0};Authorization=AAD', ${identityReference('clientId')})]`);
  });

  it('reads the token peppers through a Key Vault reference', () => {
    const secret = single(snapshot, 'Microsoft.KeyVault/vaults/secrets');
    expect(secret.name).toBe(`${vault.name}/token-peppers`);
    expect(appSettings.get('TOKEN_PEPPERS')).toBe(
      `[format('@Microsoft.KeyVault(SecretUri={0})', reference('${secret.id}', '${secret.apiVersion}').secretUri)]`,
    );
  });

  it('passes the caller authentication parameters and the timer schedules through', () => {
    expect(appSettings.get('AUTH_ISSUER')).toBe(fixture.authIssuer);
    expect(appSettings.get('AUTH_AUDIENCE')).toBe(fixture.authAudience);
    expect(appSettings.get('AUTH_JWKS_URI')).toBe(fixture.authJwksUri);
    expect(appSettings.get('LIFECYCLE_SCHEDULE')).toBe('0 */5 * * * *');
    expect(appSettings.get('GRANT_REVIEW_SCHEDULE')).toBe('0 */15 * * * *');
  });

  it('sets every app setting a trigger declaration refers to (%SETTING%), with valid schedules', () => {
    const referenced = declarations.flatMap((declaration) => {
      const values = declaration.kind === 'timer' ? [declaration.options.schedule] : declaration.kind === 'queue' ? [declaration.options.queueName] : [];
      return values.flatMap((value) => /^%([A-Za-z0-9_]+)%$/.exec(value)?.[1] ?? []);
    });
    expect(referenced.length).toBeGreaterThan(0);
    for (const name of referenced) {
      const value = appSettings.get(name);
      expect(value, name).toBeTypeOf('string');
      if (declarations.some((d) => d.kind === 'timer' && d.options.schedule === `%${name}%`)) {
        expect(() => parseNcrontab(String(value)), name).not.toThrow();
      }
    }
  });

  it('sets none of the settings that break identity-based storage or Flex Consumption', () => {
    for (const name of [
      'AzureWebJobsStorage',
      STORAGE_CONNECTION,
      'FUNCTIONS_WORKER_RUNTIME',
      'FUNCTIONS_EXTENSION_VERSION',
      'WEBSITE_RUN_FROM_PACKAGE',
      'WEBSITE_NODE_DEFAULT_VERSION',
      'WEBSITE_CONTENTAZUREFILECONNECTIONSTRING',
      'WEBSITE_CONTENTSHARE',
    ]) {
      expect(appSettings.has(name), name).toBe(false);
    }
  });
});

describe('monitoring and Key Vault', () => {
  it('accepts Entra ID-authenticated telemetry only, into the Log Analytics workspace', () => {
    expect(appInsights.properties).toMatchObject({ DisableLocalAuth: true, WorkspaceResourceId: workspace.id });
  });

  it('authorizes Key Vault with Azure RBAC, with soft delete and purge protection', () => {
    expect(vault.properties).toMatchObject({
      enableRbacAuthorization: true,
      enableSoftDelete: true,
      enablePurgeProtection: true,
      tenantId: '00000000-0000-0000-0000-0000000000bb',
    });
  });
});

describe('secrets', () => {
  const pepper = process.env.GATEHOUSE_TEST_TOKEN_PEPPERS ?? '';

  it('keeps the pepper value out of every resource property and output', () => {
    expect(pepper, 'GATEHOUSE_TEST_TOKEN_PEPPERS is set by tools/bicep/run.sh').toMatch(/^ci1:/);
    const secret = single(snapshot, 'Microsoft.KeyVault/vaults/secrets');
    // The secure parameter is only ever passed by reference, to the Key Vault secret.
    expect(prop(secret, 'value')).toBe("[parameters('tokenPeppers')]");
    expect(JSON.stringify(snapshot)).not.toContain(pepper.slice(4));
    expect(JSON.stringify(snapshot.outputs ?? {})).not.toContain('tokenPeppers');
  });
});

describe('role assignments', () => {
  const assignments = resourcesOfType(snapshot, 'Microsoft.Authorization/roleAssignments');
  const scopes = [
    { name: 'storage', id: storage.id },
    { name: 'appInsights', id: appInsights.id },
    { name: 'vault', id: vault.id },
  ];

  /** scope/role/principal of an assignment, with its name checked against guid(scope, principal, role). */
  function describeAssignment(assignment: PredictedResource): string {
    const roleDefinitionId = String(prop(assignment, 'roleDefinitionId'));
    const roleId = roleDefinitionId.split('/').at(-1) ?? '';
    expect(roleDefinitionId).toBe(`/subscriptions/00000000-0000-0000-0000-0000000000aa/providers/Microsoft.Authorization/roleDefinitions/${roleId}`);
    const scope = scopes.find(({ id }) => assignment.id.includes(`'${id}'`) || assignment.id.startsWith(`${id}/providers/`));
    expect(scope, assignment.id).toBeDefined();
    const principalId = prop(assignment, 'principalId');
    const principalType = String(prop(assignment, 'principalType'));
    if (principalId === `[${identityReference('principalId')}]`) {
      expect(assignment.name).toBe(`[guid('${scope?.id}', ${identityReference('principalId')}, '${roleId}')]`);
      return `${scope?.name} ${roleId} identity ${principalType}`;
    }
    expect(principalId).toBe(fixture.principalId);
    expect(assignment.name).toBe(armGuid(scope?.id ?? '', fixture.principalId ?? '', roleId));
    return `${scope?.name} ${roleId} user ${principalType}`;
  }

  it('grants exactly the least-privilege roles, named guid(scope, principal, role)', () => {
    expect(assignments.map(describeAssignment).sort()).toEqual(
      [
        `storage ${ROLE.storageBlobDataOwner} identity ServicePrincipal`,
        `storage ${ROLE.storageQueueDataContributor} identity ServicePrincipal`,
        `storage ${ROLE.storageTableDataContributor} identity ServicePrincipal`,
        `appInsights ${ROLE.monitoringMetricsPublisher} identity ServicePrincipal`,
        `vault ${ROLE.keyVaultSecretsUser} identity ServicePrincipal`,
        // The deploying user (principalId) gets the storage data roles only.
        `storage ${ROLE.storageBlobDataOwner} user User`,
        `storage ${ROLE.storageQueueDataContributor} user User`,
        `storage ${ROLE.storageTableDataContributor} user User`,
      ].sort(),
    );
  });
});
