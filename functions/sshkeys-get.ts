import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { SSH_KEY_API_VERSIONS, pagedSshKeysSchema, sshKeyResultSchema, sshKeyValidationCode, sshKeysGetQuery } from '../shared/sshkeys/schemas.js';
import { getSshKey, listSshKeys, sshKeyContextOf } from '../shared/sshkeys/service.js';

/** `GET /_apis/tokens/sshkeys`: one key with `authorizationId`, otherwise a page of keys. */
export const sshKeysGet = endpoint({
  name: 'sshkeys-get',
  route: '{organization}/_apis/tokens/sshkeys',
  location: { id: 'eedcb8df-60cf-4c80-90f0-674ba06397f8', area: 'Tokens', resource: 'sshkeys' },
  methods: ['GET'],
  summary: "Gets one of the caller's SSH keys (authorizationId) or lists them (filters, sort, paging).",
  tags: ['SSH keys'],
  apiVersions: SSH_KEY_API_VERSIONS,
  access: { users: { scopes: ['vso.pats', 'vso.pats_manage'] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  query: sshKeysGetQuery,
  errorEnvelope: 'sshKeyResult',
  validationCode: sshKeyValidationCode,
  responses: {
    200: { description: 'SshKeyResult (with authorizationId) or PagedSshKeys.', schema: z.union([sshKeyResultSchema, pagedSshKeysSchema]) },
  },
  handler: async (input) => {
    const context = sshKeyContextOf(input);
    if (input.query.authorizationId) {
      return { body: { sshKey: await getSshKey(context, input.query.authorizationId), sshKeyError: 'none' } };
    }
    return { body: await listSshKeys(context, input.query) };
  },
});
