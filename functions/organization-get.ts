import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { organizationView } from '../shared/directory/service.js';
import { organizationSchema } from '../shared/directory/schemas.js';

export const organizationGet = endpoint({
  name: 'organization-get',
  route: '{organization}/_apis/organization',
  location: { id: 'b8d5c907-1032-4ca1-84f4-24a4e3b49fa6', area: 'organization', resource: 'organization' },
  methods: ['GET'],
  summary: "The organization's overview: name and description (visible to every member).",
  tags: ['Organizations'],
  apiVersions: API_VERSIONS.core,
  access: { users: { scopes: USER_SCOPES.project }, apps: { roles: [] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  responses: { 200: { description: 'The organization.', schema: organizationSchema } },
  handler: async ({ organization }) => ({ body: organizationView(organization.organization) }),
});
