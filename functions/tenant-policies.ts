import { USER_SCOPES } from '../shared/auth/scopes.js';
import { TENANT_ADMINISTRATOR_ROLE } from '../shared/auth/roles.js';
import { endpoint } from '../shared/http/endpoint.js';
import { TOKEN_POLICY_API_VERSIONS } from '../shared/tokens/schemas.js';
import {
  etagOf,
  policyView,
  readTenantPolicies,
  tenantPolicyDocumentSchema,
  tenantPolicyUpdateSchema,
  updateTenantPolicies,
} from '../shared/tokens/policies.js';
import { z } from 'zod';

const access = { users: { scopes: USER_SCOPES.tokenAdministration, roles: [TENANT_ADMINISTRATOR_ROLE] } } as const;
const viewSchema = tenantPolicyDocumentSchema.extend({
  revision: z.number(),
  lastModifiedDate: z.string().nullable(),
  lastModifiedBy: z.string().nullable(),
});

/** `GET /_apis/tenant/policies`: the caller's tenant's policies. */
export const tenantPoliciesGet = endpoint({
  name: 'tenant-policies-get',
  route: '_apis/tenant/policies',
  location: { id: '6d1c2e4f-7a3b-4c5d-9e8f-0a1b2c3d4e53', area: 'Tenant', resource: 'policies' },
  methods: ['GET'],
  summary: "The caller's tenant policies (tenant administrators): applied in every organization of the tenant.",
  tags: ['Token policies'],
  apiVersions: TOKEN_POLICY_API_VERSIONS,
  access,
  responses: { 200: { description: 'The tenant policy document.', schema: viewSchema } },
  handler: async ({ app, caller }) => {
    const stored = await readTenantPolicies(app, caller.tenantId);
    return { body: policyView(stored), headers: { ETag: etagOf(stored.revision) } };
  },
});

/** `PUT /_apis/tenant/policies`: replaces the given sections; audited in every organization of the tenant. */
export const tenantPoliciesUpdate = endpoint({
  name: 'tenant-policies-update',
  route: '_apis/tenant/policies',
  location: { id: '6d1c2e4f-7a3b-4c5d-9e8f-0a1b2c3d4e53', area: 'Tenant', resource: 'policies' },
  methods: ['PUT'],
  summary: 'Replaces the given tenant policy sections (tenant administrators); audited as Token.TenantPolicyUpdateEvent in every organization of the tenant.',
  tags: ['Token policies'],
  apiVersions: TOKEN_POLICY_API_VERSIONS,
  access,
  body: tenantPolicyUpdateSchema,
  responses: {
    200: { description: 'The saved tenant policy document.', schema: viewSchema },
    412: { description: 'preconditionFailed: If-Match does not match the current revision.' },
  },
  handler: async (input) => {
    const stored = await updateTenantPolicies(input, input.body, input.request.headers.get('if-match'));
    return { body: policyView(stored), headers: { ETag: etagOf(stored.revision) } };
  },
});
