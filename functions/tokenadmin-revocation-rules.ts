import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { createRevocationRule } from '../shared/tokens/admin.js';
import { TOKEN_ADMIN_API_VERSIONS, revocationRuleBody } from '../shared/tokens/schemas.js';

export const tokenAdminRevocationRules = endpoint({
  name: 'tokenadmin-revocation-rules',
  route: '{organization}/_apis/tokenadmin/revocationrules',
  location: { id: 'ee4afb16-e7ab-4ed8-9d4b-4ef3e78f97e4', area: 'TokenAdmin', resource: 'RevocationRules' },
  methods: ['POST'],
  summary: 'Stores a revocation rule (scopes, createdBefore) and revokes the matching PATs now.',
  tags: ['Token admin'],
  apiVersions: TOKEN_ADMIN_API_VERSIONS,
  access: { users: { scopes: ['vso.tokenadministration'] }, organization: 'administrator', pats: { scopes: ['vso.tokenadministration'] } },
  params: organizationParam,
  body: revocationRuleBody,
  responses: { 201: { description: 'Created (no body).' } },
  handler: async (input) => {
    await createRevocationRule(input, input.body);
    return { status: 201 };
  },
});
