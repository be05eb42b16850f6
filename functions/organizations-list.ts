import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { listOrganizationsOf, organizationView } from '../shared/directory/service.js';
import { listOf, organizationSchema } from '../shared/directory/schemas.js';

export const organizationsList = endpoint({
  name: 'organizations-list',
  route: '_apis/organizations',
  location: { id: 'e2585d8c-65c2-4dea-b1a6-51e38908461c', area: 'organization', resource: 'organizations' },
  methods: ['GET'],
  summary: 'Organizations the caller belongs to.',
  tags: ['Organizations'],
  apiVersions: API_VERSIONS.core,
  access: { users: { scopes: USER_SCOPES.profile }, apps: { roles: [] } },
  responses: { 200: { description: 'The organizations.', schema: listOf(organizationSchema) } },
  handler: async ({ app, caller }) => {
    const organizations = await listOrganizationsOf(app, caller);
    return { body: { count: organizations.length, value: organizations.map(organizationView) } };
  },
});
