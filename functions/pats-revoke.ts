import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { PAT_API_VERSIONS, authorizationIdQuery, patValidationCode } from '../shared/tokens/schemas.js';
import { patContextOf, revokePat } from '../shared/tokens/service.js';

export const patsRevoke = endpoint({
  name: 'pats-revoke',
  route: '{organization}/_apis/tokens/pats',
  location: { id: '55967393-20ef-45c6-a96c-b5d5d5986a9a', area: 'Tokens', resource: 'pats' },
  methods: ['DELETE'],
  summary: "Revokes one of the caller's PATs (idempotent).",
  tags: ['PATs'],
  apiVersions: PAT_API_VERSIONS,
  access: { users: { scopes: ['vso.pats_manage'] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  query: authorizationIdQuery,
  errorEnvelope: 'patTokenResult',
  validationCode: patValidationCode,
  responses: { 204: { description: 'Revoked (or already revoked).' } },
  handler: async (input) => {
    await revokePat(patContextOf(input), input.query.authorizationId);
    return { status: 204 };
  },
});
