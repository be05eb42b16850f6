import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { connectionData, connectionDataSchema } from '../shared/tokens/self.js';

/** `GET /{organization}/_apis/connectionData`: who the caller is, in Azure DevOps' shape (PAT or user token). */
export const connectionDataGet = endpoint({
  name: 'connection-data',
  route: '{organization}/_apis/connectionData',
  methods: ['GET'],
  summary: 'The authenticated user (Azure DevOps connectionData); for a PAT also its authorizationId, scopes and validTo.',
  tags: ['Using tokens'],
  access: { users: { scopes: USER_SCOPES.profile }, pats: { scopes: [] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  responses: { 200: { description: 'ConnectionData.', schema: connectionDataSchema } },
  handler: async ({ app, caller, organization }) => {
    if (!caller || caller.kind === 'servicePrincipal' || !organization) throw new Error('connectionData needs a user or PAT caller');
    return { body: await connectionData(app, caller, organization.organization) };
  },
});
