import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { auditSettingsBody, auditSettingsSchema, readAuditSettings, updateAuditSettings } from '../shared/audit/access.js';

const access = { users: { scopes: USER_SCOPES.auditManage }, organization: 'administrator' } as const;

export const auditSettingsGet = endpoint({
  name: 'audit-settings-get',
  route: '{organization}/_apis/audit/settings',
  location: { id: '07d84ea3-8f88-4a0b-a2dc-6a45454bdecf', area: 'audit', resource: 'settings' },
  methods: ['GET'],
  summary: "The organization's audit log retention.",
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access,
  params: organizationParam,
  responses: { 200: { description: 'The settings.', schema: auditSettingsSchema } },
  handler: async ({ app, organization }) => ({ body: await readAuditSettings(app, organization.organization.id) }),
});

export const auditSettingsUpdate = endpoint({
  name: 'audit-settings-update',
  route: '{organization}/_apis/audit/settings',
  location: { id: '07d84ea3-8f88-4a0b-a2dc-6a45454bdecf', area: 'audit', resource: 'settings' },
  methods: ['PATCH'],
  summary: 'Sets the audit log retention in days (1 to 3650); older day partitions are purged by the retention timer.',
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access,
  params: organizationParam,
  body: auditSettingsBody,
  responses: { 200: { description: 'The settings.', schema: auditSettingsSchema } },
  handler: async (input) => ({ body: await updateAuditSettings(input, input.body.retentionDays) }),
});
