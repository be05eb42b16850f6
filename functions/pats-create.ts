import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { PAT_API_VERSIONS, patCreateRequest, patTokenResultSchema, patValidationCode } from '../shared/tokens/schemas.js';
import { createPat, patContextOf } from '../shared/tokens/service.js';

export const patsCreate = endpoint({
  name: 'pats-create',
  route: '{organization}/_apis/tokens/pats',
  location: { id: '55967393-20ef-45c6-a96c-b5d5d5986a9a', area: 'Tokens', resource: 'pats' },
  methods: ['POST'],
  summary: 'Creates a personal access token for the caller; the secret is in this response only.',
  tags: ['PATs'],
  apiVersions: PAT_API_VERSIONS,
  access: { users: { scopes: ['vso.pats_manage'] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  body: patCreateRequest,
  errorEnvelope: 'patTokenResult',
  validationCode: patValidationCode,
  responses: { 200: { description: 'PatTokenResult with the new token (and its secret).', schema: patTokenResultSchema } },
  handler: async (input) => ({
    body: { patToken: await createPat(patContextOf(input), input.body), patTokenError: 'none' },
  }),
});
