import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { SSH_KEY_API_VERSIONS, sshKeyDeleteQuery, sshKeyValidationCode } from '../shared/sshkeys/schemas.js';
import { removeSshKey, revokeSshKey, sshKeyContextOf } from '../shared/sshkeys/service.js';

export const sshKeysDelete = endpoint({
  name: 'sshkeys-delete',
  route: '{organization}/_apis/tokens/sshkeys',
  location: { id: 'eedcb8df-60cf-4c80-90f0-674ba06397f8', area: 'Tokens', resource: 'sshkeys' },
  methods: ['DELETE'],
  summary: "Revokes one of the caller's SSH keys (idempotent); with remove=true removes it entirely.",
  tags: ['SSH keys'],
  apiVersions: SSH_KEY_API_VERSIONS,
  access: { users: { scopes: ['vso.pats_manage'] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  query: sshKeyDeleteQuery,
  errorEnvelope: 'sshKeyResult',
  validationCode: sshKeyValidationCode,
  responses: { 204: { description: 'Revoked (or already revoked), or removed.' } },
  handler: async (input) => {
    const context = sshKeyContextOf(input);
    if (input.query.remove) await removeSshKey(context, input.query.authorizationId);
    else await revokeSshKey(context, input.query.authorizationId);
    return { status: 204 };
  },
});
