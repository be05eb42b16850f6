import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { SSH_KEY_API_VERSIONS, sshKeyCreateRequest, sshKeyResultSchema, sshKeyValidationCode } from '../shared/sshkeys/schemas.js';
import { createSshKey, sshKeyContextOf } from '../shared/sshkeys/service.js';

export const sshKeysCreate = endpoint({
  name: 'sshkeys-create',
  route: '{organization}/_apis/tokens/sshkeys',
  location: { id: 'eedcb8df-60cf-4c80-90f0-674ba06397f8', area: 'Tokens', resource: 'sshkeys' },
  methods: ['POST'],
  summary: 'Registers an SSH public key for the caller in the organization (displayName, publicData, validTo).',
  tags: ['SSH keys'],
  apiVersions: SSH_KEY_API_VERSIONS,
  access: { users: { scopes: ['vso.pats_manage'] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  body: sshKeyCreateRequest,
  errorEnvelope: 'sshKeyResult',
  validationCode: sshKeyValidationCode,
  responses: { 200: { description: 'SshKeyResult with the new key.', schema: sshKeyResultSchema } },
  handler: async (input) => ({
    body: { sshKey: await createSshKey(sshKeyContextOf(input), input.body), sshKeyError: 'none' },
  }),
});
