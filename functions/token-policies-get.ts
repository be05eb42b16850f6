import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { TOKEN_POLICY_API_VERSIONS } from '../shared/tokens/schemas.js';
import { etagOf, policyView, readPolicies, tokenPolicyViewSchema } from '../shared/tokens/policies.js';

export const tokenPoliciesGet = endpoint({
  name: 'token-policies-get',
  route: '{organization}/_apis/tokens/policies',
  location: { id: 'c664e6fa-fe8f-4f99-b1a2-a61ce770e277', area: 'Tokens', resource: 'policies' },
  methods: ['GET'],
  summary: "The organization's PAT policies (Project Collection Administrators); ETag for PUT's If-Match.",
  tags: ['Token policies'],
  apiVersions: TOKEN_POLICY_API_VERSIONS,
  access: { users: { scopes: USER_SCOPES.tokenAdministration }, organization: 'administrator' },
  params: organizationParam,
  responses: { 200: { description: 'The policy document with its revision.', schema: tokenPolicyViewSchema } },
  handler: async ({ app, organization }) => {
    const stored = await readPolicies(app, organization.organization.id);
    return { body: policyView(stored), headers: { ETag: etagOf(stored.revision) } };
  },
});
