import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { connectionData, connectionDataSchema } from '../shared/tokens/self.js';

/** `GET /{organization}/_apis/connectionData`: who the caller is, in Azure DevOps' shape (PAT or user token). */
export const connectionDataGet = endpoint({
  name: 'connection-data',
  route: '{organization}/_apis/connectionData',
  location: { id: '00d9565f-ed9c-4a06-9a50-00e7896ccab4', area: 'Location', resource: 'ConnectionData' },
  apiVersions: API_VERSIONS.location,
  methods: ['GET'],
  summary: 'The authenticated user (Azure DevOps connectionData); for a PAT also its authorizationId, scopes and validTo.',
  tags: ['Using tokens'],
  access: { users: { scopes: USER_SCOPES.profile }, pats: { scopes: [] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  responses: { 200: { description: 'ConnectionData.', schema: connectionDataSchema } },
  handler: async ({ app, caller, organization }) => ({ body: await connectionData(app, caller, organization.organization) }),
});
