import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { sessionTokenSourceFor } from '../shared/sshkeys/session-token-sources.js';
import { revokeAuthorizations } from '../shared/tokens/admin.js';
import { TOKEN_ADMIN_API_VERSIONS, isPublicQuery, revocationsBody } from '../shared/tokens/schemas.js';

export const tokenAdminRevocations = endpoint({
  name: 'tokenadmin-revocations',
  route: '{organization}/_apis/tokenadmin/revocations',
  location: { id: 'a9c08b2c-5466-4e22-8626-1ff304ffdf0f', area: 'TokenAdmin', resource: 'Revocations' },
  methods: ['POST'],
  summary: "Revokes members' PATs (or SSH keys with isPublic=true) by authorizationId.",
  tags: ['Token admin'],
  apiVersions: TOKEN_ADMIN_API_VERSIONS,
  access: { users: { scopes: ['vso.tokenadministration'] }, organization: 'administrator', pats: { scopes: ['vso.tokenadministration'] } },
  params: organizationParam,
  query: isPublicQuery,
  body: revocationsBody,
  responses: { 204: { description: 'Revoked.' } },
  handler: async (input) => {
    await revokeAuthorizations(
      input,
      input.body.map((item) => item.authorizationId),
      input.query.isPublic,
      sessionTokenSourceFor(input.query.isPublic),
    );
    return { status: 204 };
  },
});
