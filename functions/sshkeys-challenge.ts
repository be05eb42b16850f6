import { USER_SCOPES } from '../shared/auth/scopes.js';
import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { issueChallenge } from '../shared/sshkeys/proof.js';
import { SSH_KEY_API_VERSIONS } from '../shared/sshkeys/schemas.js';

/** `GET /{organization}/_apis/tokens/sshkeys/challenge`: a challenge to sign for a proof of possession. */
export const sshKeysChallenge = endpoint({
  name: 'sshkeys-challenge',
  route: '{organization}/_apis/tokens/sshkeys/challenge',
  location: { id: '6d1c2e4f-7a3b-4c5d-9e8f-0a1b2c3d4e55', area: 'Tokens', resource: 'sshkeyChallenge' },
  methods: ['GET'],
  summary: 'A challenge (bound to the caller and organization, valid 10 minutes) to sign with `ssh-keygen -Y sign` as proof of possession.',
  tags: ['SSH keys'],
  apiVersions: SSH_KEY_API_VERSIONS,
  access: { users: { scopes: USER_SCOPES.patsManage }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  responses: {
    200: {
      description: 'The challenge, the namespace to sign it in and when it expires.',
      schema: z.object({ challenge: z.string(), namespace: z.string(), expiresOn: z.string(), command: z.string() }),
    },
  },
  handler: async ({ app, caller, organization }) => {
    const issued = issueChallenge(app, caller.id, organization.organization.id);
    return {
      body: { ...issued, command: `printf '%s' '${issued.challenge}' | ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n ${issued.namespace}` },
    };
  },
});
