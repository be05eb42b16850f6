import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { TOKEN_POLICY_API_VERSIONS } from '../shared/tokens/schemas.js';
import { enforcedPolicies } from '../shared/tokens/policies.js';
import { policySummaryFor, policySummarySchema } from '../shared/tokens/policy-summary.js';

export const tokenPoliciesMine = endpoint({
  name: 'token-policies-mine',
  route: '{organization}/_apis/tokens/policies/mine',
  methods: ['GET'],
  summary: "The organization's token policies as they apply to the caller (exemptions resolved), to show before creating a token.",
  tags: ['Token policies'],
  apiVersions: TOKEN_POLICY_API_VERSIONS,
  access: { users: { scopes: ['vso.pats', 'vso.pats_manage'] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  responses: { 200: { description: 'The policies that apply to the caller.', schema: policySummarySchema } },
  handler: async ({ app, caller, organization }) => ({
    body: policySummaryFor(await enforcedPolicies(app, organization!.organization.id), caller!.id),
  }),
});
