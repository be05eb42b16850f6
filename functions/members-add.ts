import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { addMember } from '../shared/directory/service.js';
import { addMemberBody, invitationSchema, memberSchema } from '../shared/directory/schemas.js';

export const membersAdd = endpoint({
  name: 'members-add',
  route: '{organization}/_apis/userentitlements',
  location: { id: '387f832c-dbf2-4643-88e9-c1aa94dbb737', area: 'MemberEntitlementManagement', resource: 'UserEntitlements' },
  methods: ['POST'],
  summary:
    "Adds a known identity of the organization's tenant (Project Collection Administrators); a person of another tenant is invited instead, when the organization allows external guests, and joins by accepting.",
  tags: ['Members'],
  apiVersions: API_VERSIONS.memberEntitlements,
  access: { users: { scopes: USER_SCOPES.membersWrite }, organization: 'administrator', pats: { scopes: ['vso.memberentitlementmanagement_write'] } },
  params: organizationParam,
  body: addMemberBody,
  responses: {
    201: { description: 'Added.', schema: memberSchema },
    202: { description: 'A person of another tenant was invited; they join by accepting.', schema: invitationSchema },
    403: { description: 'externalGuestsNotAllowed' },
    404: { description: 'identityNotFound' },
    409: { description: 'memberAlreadyExists' },
  },
  handler: async (input) => addMember(input, input.body),
});
