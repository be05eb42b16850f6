import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { TOKEN_POLICY_API_VERSIONS } from '../shared/tokens/schemas.js';
import { etagOf, policyView, tokenPolicyUpdateSchema, tokenPolicyViewSchema, updatePolicies } from '../shared/tokens/policies.js';

export const tokenPoliciesUpdate = endpoint({
  name: 'token-policies-update',
  route: '{organization}/_apis/tokens/policies',
  location: { id: 'c664e6fa-fe8f-4f99-b1a2-a61ce770e277', area: 'Tokens', resource: 'policies' },
  methods: ['PUT'],
  summary: 'Replaces the given policy sections (others keep their values); audited as Token.PolicyUpdateEvent.',
  tags: ['Token policies'],
  apiVersions: TOKEN_POLICY_API_VERSIONS,
  access: { users: { scopes: USER_SCOPES.tokenAdministration }, organization: 'administrator' },
  params: organizationParam,
  body: tokenPolicyUpdateSchema,
  responses: {
    200: { description: 'The saved policy document.', schema: tokenPolicyViewSchema },
    412: { description: 'preconditionFailed: If-Match does not match the current revision.' },
  },
  handler: async (input) => {
    const stored = await updatePolicies(input, input.body, input.request.headers.get('if-match'));
    return { body: policyView(stored), headers: { ETag: etagOf(stored.revision) } };
  },
});
