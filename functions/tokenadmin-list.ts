import { endpoint } from '../shared/http/endpoint.js';
import { sessionTokenSourceFor } from '../shared/sshkeys/session-token-sources.js';
import { listUserTokens } from '../shared/tokens/admin.js';
import { TOKEN_ADMIN_API_VERSIONS, pagedSessionTokensSchema, subjectDescriptorParam, tokenAdminListQuery } from '../shared/tokens/schemas.js';

export const tokenAdminList = endpoint({
  name: 'tokenadmin-list',
  route: '{organization}/_apis/tokenadmin/personalaccesstokens/{subjectDescriptor}',
  location: { id: 'af68438b-ed04-4407-9eb6-f1dbae3f922e', area: 'TokenAdmin', resource: 'PersonalAccessTokens' },
  methods: ['GET'],
  summary: "A member's PATs (isPublic=false) or SSH keys (isPublic=true), for Project Collection Administrators.",
  tags: ['Token admin'],
  apiVersions: TOKEN_ADMIN_API_VERSIONS,
  access: { users: { scopes: ['vso.tokenadministration'] }, organization: 'administrator', pats: { scopes: ['vso.tokenadministration'] } },
  params: subjectDescriptorParam,
  query: tokenAdminListQuery,
  responses: { 200: { description: 'TokenAdminPagedSessionTokens.', schema: pagedSessionTokensSchema } },
  handler: async (input) => ({ body: await listUserTokens(input, input.params.subjectDescriptor, input.query, sessionTokenSourceFor(input.query.isPublic)) }),
});
