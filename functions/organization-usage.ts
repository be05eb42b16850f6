import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { organizationUsage } from '../shared/directory/visibility.js';
import { getCapacity } from '../shared/pipelines/service.js';
import { organizationUsageSchema } from '../shared/directory/schemas.js';

export const organizationUsageGet = endpoint({
  name: 'organization-usage',
  route: '{organization}/_apis/organization/usage',
  location: { id: 'c4a1c1d4-3b10-4aac-89e6-a6d44e3f1e65', area: 'organization', resource: 'usage' },
  methods: ['GET'],
  summary: 'Billing and usage: members, service principals and projects.',
  tags: ['Organizations'],
  apiVersions: API_VERSIONS.core,
  access: { users: { scopes: USER_SCOPES.members }, organization: 'member' },
  params: organizationParam,
  responses: { 200: { description: 'Usage.', schema: organizationUsageSchema } },
  handler: async ({ app, organization }) => ({ body: await organizationUsage(app, organization, getCapacity) }),
});
