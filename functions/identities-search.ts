import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { searchIdentities } from '../shared/directory/visibility.js';
import { identitySchema, identitySearchQuery, listOf } from '../shared/directory/schemas.js';

export const identitiesSearch = endpoint({
  name: 'identities-search',
  route: '{organization}/_apis/identities',
  location: { id: '28010c54-d0c0-4c89-a5b0-1c9e188b9fb7', area: 'IMS', resource: 'Identities' },
  methods: ['GET'],
  summary: 'People search and resolution by email or id; Project-Scoped Users only find people who share a project with them.',
  tags: ['Members'],
  apiVersions: API_VERSIONS.core,
  access: { users: { scopes: USER_SCOPES.identity }, organization: 'member', projectScopedUsers: 'allowed', pats: { scopes: ['vso.identity'] } },
  params: organizationParam,
  query: identitySearchQuery,
  responses: { 200: { description: 'Matching identities.', schema: listOf(identitySchema) } },
  handler: async ({ app, organization, query }) => ({ body: await searchIdentities(app, organization, query) }),
});
