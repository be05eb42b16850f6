import { USER_SCOPES } from '../shared/auth/scopes.js';
import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { listMembers } from '../shared/directory/service.js';
import { memberSchema } from '../shared/directory/schemas.js';

export const membersList = endpoint({
  name: 'members-list',
  route: '{organization}/_apis/userentitlements',
  location: { id: '387f832c-dbf2-4643-88e9-c1aa94dbb737', area: 'MemberEntitlementManagement', resource: 'UserEntitlements' },
  methods: ['GET'],
  summary: 'Members of the organization with their groups and project entitlements.',
  tags: ['Members'],
  apiVersions: API_VERSIONS.memberEntitlements,
  access: { users: { scopes: USER_SCOPES.members }, organization: 'member', pats: { scopes: ['vso.memberentitlementmanagement'] } },
  params: organizationParam,
  responses: { 200: { description: 'The members.', schema: z.object({ totalCount: z.number(), members: z.array(memberSchema) }) } },
  handler: async ({ app, organization }) => {
    const members = await listMembers(app, organization);
    return { body: { totalCount: members.length, members } };
  },
});
