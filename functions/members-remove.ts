import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationUserParam } from '../shared/http/params.js';
import { removeMember } from '../shared/directory/service.js';

export const membersRemove = endpoint({
  name: 'members-remove',
  route: '{organization}/_apis/userentitlements/{userId}',
  location: { id: '8480c6eb-ce60-47e9-88df-eca3c801638b', area: 'MemberEntitlementManagement', resource: 'UserEntitlements' },
  methods: ['DELETE'],
  summary: 'Removes a member from the organization (Project Collection Administrators).',
  tags: ['Members'],
  apiVersions: API_VERSIONS.memberEntitlements,
  access: { users: { scopes: USER_SCOPES.membersWrite }, organization: 'administrator', pats: { scopes: ['vso.memberentitlementmanagement_write'] } },
  params: organizationUserParam,
  responses: { 204: { description: 'Removed.' }, 404: { description: 'memberNotFound' }, 409: { description: 'lastAdministrator' } },
  handler: async (input) => {
    await removeMember(input, input.params.userId);
    return { status: 204 };
  },
});
