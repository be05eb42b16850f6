import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { SSH_KEY_API_VERSIONS, sshKeyResultSchema, sshKeyUpdateRequest, sshKeyValidationCode } from '../shared/sshkeys/schemas.js';
import { sshKeyContextOf, updateSshKey } from '../shared/sshkeys/service.js';

export const sshKeysUpdate = endpoint({
  name: 'sshkeys-update',
  route: '{organization}/_apis/tokens/sshkeys',
  location: { id: 'eedcb8df-60cf-4c80-90f0-674ba06397f8', area: 'Tokens', resource: 'sshkeys' },
  methods: ['PUT'],
  summary: "Renames one of the caller's active SSH keys or changes its validTo.",
  tags: ['SSH keys'],
  apiVersions: SSH_KEY_API_VERSIONS,
  access: { users: { scopes: ['vso.pats_manage'] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  body: sshKeyUpdateRequest,
  errorEnvelope: 'sshKeyResult',
  validationCode: sshKeyValidationCode,
  responses: { 200: { description: 'SshKeyResult with the updated key.', schema: sshKeyResultSchema } },
  handler: async (input) => ({
    body: { sshKey: await updateSshKey(sshKeyContextOf(input), input.body), sshKeyError: 'none' },
  }),
});
