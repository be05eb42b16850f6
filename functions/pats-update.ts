import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { PAT_API_VERSIONS, patTokenResultSchema, patUpdateRequest, patValidationCode } from '../shared/tokens/schemas.js';
import { patContextOf, updatePat } from '../shared/tokens/service.js';

export const patsUpdate = endpoint({
  name: 'pats-update',
  route: '{organization}/_apis/tokens/pats',
  location: { id: '55967393-20ef-45c6-a96c-b5d5d5986a9a', area: 'Tokens', resource: 'pats' },
  methods: ['PUT'],
  summary: "Updates the display name, scope, expiry or allOrgs of one of the caller's active PATs.",
  tags: ['PATs'],
  apiVersions: PAT_API_VERSIONS,
  access: { users: { scopes: ['vso.pats_manage'] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  body: patUpdateRequest,
  errorEnvelope: 'patTokenResult',
  validationCode: patValidationCode,
  responses: { 200: { description: 'PatTokenResult with the updated PAT.', schema: patTokenResultSchema } },
  handler: async (input) => ({
    body: { patToken: await updatePat(patContextOf(input), input.body), patTokenError: 'none' },
  }),
});
