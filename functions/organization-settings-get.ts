import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { organizationSettingsView } from '../shared/directory/visibility.js';
import { organizationSettingsSchema } from '../shared/directory/schemas.js';

export const organizationSettingsGet = endpoint({
  name: 'organization-settings-get',
  route: '{organization}/_apis/organization/settings',
  location: { id: '448d0ebf-40fd-4ff1-8ea9-7c63278c6dd3', area: 'organization', resource: 'settings' },
  methods: ['GET'],
  summary: 'Organization settings, such as limiting user visibility to projects.',
  tags: ['Organizations'],
  apiVersions: API_VERSIONS.core,
  access: { users: { scopes: USER_SCOPES.settings }, organization: 'member' },
  params: organizationParam,
  responses: { 200: { description: 'The settings.', schema: organizationSettingsSchema } },
  handler: async ({ organization }) => ({ body: organizationSettingsView(organization.organization) }),
});
