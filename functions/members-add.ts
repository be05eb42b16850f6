import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { addMember } from '../shared/directory/service.js';
import { addMemberBody, memberSchema } from '../shared/directory/schemas.js';

export const membersAdd = endpoint({
  name: 'members-add',
  route: '{organization}/_apis/userentitlements',
  location: { id: '387f832c-dbf2-4643-88e9-c1aa94dbb737', area: 'MemberEntitlementManagement', resource: 'UserEntitlements' },
  methods: ['POST'],
  summary: 'Adds a known identity to the organization (Project Collection Administrators).',
  tags: ['Members'],
  apiVersions: API_VERSIONS.memberEntitlements,
  access: { users: { scopes: [] }, organization: 'administrator', pats: { scopes: ['vso.memberentitlementmanagement_write'] } },
  params: organizationParam,
  body: addMemberBody,
  responses: {
    201: { description: 'Added.', schema: memberSchema },
    404: { description: 'identityNotFound' },
    409: { description: 'memberAlreadyExists' },
  },
  handler: async ({ app, organization, body }) => ({ status: 201, body: await addMember(app, organization!, body) }),
});
