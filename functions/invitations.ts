import { z } from 'zod';
import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { acceptInvitation, listInvitations } from '../shared/directory/service.js';
import { invitationSchema, listOf, organizationSchema } from '../shared/directory/schemas.js';

/** `GET /_apis/invitations`: the caller's pending invitations to organizations of other tenants. */
export const invitationsList = endpoint({
  name: 'invitations-list',
  route: '_apis/invitations',
  location: { id: '6d1c2e4f-7a3b-4c5d-9e8f-0a1b2c3d4e51', area: 'Invitations', resource: 'invitations' },
  methods: ['GET'],
  summary: "The caller's pending invitations (as an external guest) to organizations of other tenants.",
  tags: ['Members'],
  apiVersions: API_VERSIONS.memberEntitlements,
  access: { users: { scopes: USER_SCOPES.profile } },
  responses: { 200: { description: 'The invitations.', schema: listOf(invitationSchema) } },
  handler: async ({ app, caller }) => ({ body: await listInvitations(app, caller) }),
});

/** `POST /_apis/invitations/{organization}/accept`: the invited person joins, with their own token. */
export const invitationsAccept = endpoint({
  name: 'invitations-accept',
  route: '_apis/invitations/{organization}/accept',
  location: { id: '6d1c2e4f-7a3b-4c5d-9e8f-0a1b2c3d4e52', area: 'Invitations', resource: 'accept' },
  methods: ['POST'],
  summary: 'Accepts an invitation: the caller becomes a member with the groups and projects it names.',
  tags: ['Members'],
  apiVersions: API_VERSIONS.memberEntitlements,
  access: { users: { scopes: USER_SCOPES.profileWrite } },
  params: z.object({ organization: z.string().max(64) }),
  responses: {
    200: { description: 'The organization joined.', schema: organizationSchema },
    404: { description: 'invitationNotFound' },
  },
  handler: async (input) => ({ body: await acceptInvitation(input, input.params.organization) }),
});
