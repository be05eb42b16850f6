import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationUserParam } from '../shared/http/params.js';
import { updateMember } from '../shared/directory/service.js';
import { memberSchema, updateMemberBody } from '../shared/directory/schemas.js';

export const membersUpdate = endpoint({
  name: 'members-update',
  route: '{organization}/_apis/userentitlements/{userId}',
  location: { id: '8480c6eb-ce60-47e9-88df-eca3c801638b', area: 'MemberEntitlementManagement', resource: 'UserEntitlements' },
  methods: ['PATCH'],
  summary: "Replaces a member's organization groups or project entitlements (Project Collection Administrators).",
  tags: ['Members'],
  apiVersions: API_VERSIONS.memberEntitlements,
  access: { users: { scopes: USER_SCOPES.membersWrite }, organization: 'administrator', pats: { scopes: ['vso.memberentitlementmanagement_write'] } },
  params: organizationUserParam,
  body: updateMemberBody,
  responses: { 200: { description: 'Updated.', schema: memberSchema }, 409: { description: 'lastAdministrator' } },
  handler: async (input) => ({ body: await updateMember(input, input.params.userId, input.body) }),
});
