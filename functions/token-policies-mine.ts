import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { TOKEN_POLICY_API_VERSIONS } from '../shared/tokens/schemas.js';
import { policyLayers } from '../shared/tokens/policies.js';
import { layeredPolicySummaryFor, policySummarySchema } from '../shared/tokens/policy-summary.js';
import { USER_SCOPES } from '../shared/auth/scopes.js';

export const tokenPoliciesMine = endpoint({
  name: 'token-policies-mine',
  route: '{organization}/_apis/tokens/policies/mine',
  location: { id: '6d1c2e4f-7a3b-4c5d-9e8f-0a1b2c3d4e56', area: 'Tokens', resource: 'myPolicies' },
  methods: ['GET'],
  summary:
    'The token policies of the organization and its tenant as they apply to the caller (exemptions resolved, the strictest of both), to show before creating a token.',
  tags: ['Token policies'],
  apiVersions: TOKEN_POLICY_API_VERSIONS,
  access: { users: { scopes: USER_SCOPES.pats }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  responses: { 200: { description: 'The policies that apply to the caller.', schema: policySummarySchema } },
  handler: async ({ app, caller, organization }) => ({
    body: layeredPolicySummaryFor(await policyLayers(app, organization.organization), caller.id),
  }),
});
