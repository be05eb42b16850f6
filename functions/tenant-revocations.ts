import { TENANT_ADMINISTRATOR_ROLE } from '../shared/auth/roles.js';
import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { revokeForTenant } from '../shared/tokens/admin.js';
import { TOKEN_ADMIN_API_VERSIONS, revocationsBody } from '../shared/tokens/schemas.js';

/** `POST /_apis/tenant/tokenadmin/revocations`: a tenant administrator revokes PATs of the tenant's people everywhere. */
export const tenantRevocations = endpoint({
  name: 'tenant-revocations',
  route: '_apis/tenant/tokenadmin/revocations',
  location: { id: '6d1c2e4f-7a3b-4c5d-9e8f-0a1b2c3d4e54', area: 'Tenant', resource: 'revocations' },
  methods: ['POST'],
  summary: "Revokes PATs of people of the caller's tenant in every organization (tenant administrators).",
  tags: ['Token admin'],
  apiVersions: TOKEN_ADMIN_API_VERSIONS,
  access: { users: { scopes: USER_SCOPES.tokenAdministration, roles: [TENANT_ADMINISTRATOR_ROLE] } },
  body: revocationsBody,
  responses: { 204: { description: 'Revoked.' }, 404: { description: 'authorizationNotFound: unknown, or of another tenant.' } },
  handler: async (input) => {
    await revokeForTenant(
      input,
      input.body.map((item) => item.authorizationId),
    );
    return { status: 204 };
  },
});
