import { USER_SCOPES } from '../shared/auth/scopes.js';
import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { TOKEN_POLICY_API_VERSIONS, patMetadataSchema } from '../shared/tokens/schemas.js';
import { mergePolicies, readPolicies, tokenPolicyDocumentSchema, tokenPolicyUpdateSchema } from '../shared/tokens/policies.js';
import { previewPolicyViolations } from '../shared/tokens/admin.js';

const violationSchema = patMetadataSchema.extend({
  owner: z.object({ id: z.string(), displayName: z.string(), principalName: z.string(), descriptor: z.string() }),
  violations: z.array(z.string()),
});

export const tokenPoliciesPreview = endpoint({
  name: 'token-policies-preview',
  route: '{organization}/_apis/tokens/policies/preview',
  location: { id: 'fe88e380-d5ac-4df7-8cde-5a9465ddf7cf', area: 'Tokens', resource: 'policyPreviews' },
  methods: ['POST'],
  summary: 'Dry run: which active PATs (and owners) would break the proposed policies. Nothing is saved.',
  tags: ['Token policies'],
  apiVersions: TOKEN_POLICY_API_VERSIONS,
  access: { users: { scopes: USER_SCOPES.tokenAdministration }, organization: 'administrator' },
  params: organizationParam,
  body: tokenPolicyUpdateSchema,
  responses: {
    200: {
      description: 'The proposed document (merged over the current one) and the violating PATs.',
      schema: z.object({ policies: tokenPolicyDocumentSchema, count: z.number(), value: z.array(violationSchema) }),
    },
  },
  handler: async ({ app, organization, body }) => {
    const target = organization.organization;
    const policies = mergePolicies((await readPolicies(app, target.id)).document, body);
    const value = await previewPolicyViolations(app, target, policies);
    return { body: { policies, count: value.length, value } };
  },
});
