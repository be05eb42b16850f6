import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { organizationSettingsView, updateOrganizationSettings } from '../shared/directory/visibility.js';
import { organizationSettingsBody, organizationSettingsSchema } from '../shared/directory/schemas.js';

export const organizationSettingsUpdate = endpoint({
  name: 'organization-settings-update',
  route: '{organization}/_apis/organization/settings',
  location: { id: '448d0ebf-40fd-4ff1-8ea9-7c63278c6dd3', area: 'organization', resource: 'settings' },
  methods: ['PATCH'],
  summary: 'Changes organization settings (Project Collection Administrators); audited.',
  tags: ['Organizations'],
  apiVersions: API_VERSIONS.core,
  access: { users: { scopes: USER_SCOPES.settingsWrite }, organization: 'administrator' },
  params: organizationParam,
  body: organizationSettingsBody,
  responses: { 200: { description: 'The settings after the change.', schema: organizationSettingsSchema } },
  handler: async (input) => {
    const updated = await updateOrganizationSettings(input, input.body);
    return { body: organizationSettingsView(updated) };
  },
});
