import { SERVICE_ROLES } from '../shared/auth/roles.js';
import { endpoint } from '../shared/http/endpoint.js';
import { lookupSshKey } from '../shared/sshkeys/lookup.js';
import { SSH_KEY_API_VERSIONS, sshKeyLookupRequest, sshKeyLookupResultSchema } from '../shared/sshkeys/schemas.js';

/** For git servers: who owns this key, in which organization, valid until when. */
export const sshKeysLookup = endpoint({
  name: 'sshkeys-lookup',
  route: '_apis/tokens/sshkeys/lookup',
  location: { id: '5453fd81-c3e4-4425-8f78-dd2f471ca6a9', area: 'Tokens', resource: 'sshkeyLookups' },
  methods: ['POST'],
  summary: 'Finds the active registrations of an SSH key (by fingerprint or public key) in the caller’s organizations; records last use.',
  tags: ['SSH keys'],
  apiVersions: SSH_KEY_API_VERSIONS,
  access: { apps: { roles: [SERVICE_ROLES.tokenIntrospection] } },
  body: sshKeyLookupRequest,
  responses: {
    200: { description: 'The matches (owner, organization, validity).', schema: sshKeyLookupResultSchema },
    404: { description: 'sshKeyNotFound: no active key with this fingerprint in the caller’s organizations.' },
  },
  handler: async ({ app, caller, body }) => ({ body: await lookupSshKey(app, caller, body) }),
});
