import { endpoint } from '../shared/http/endpoint.js';
import { organizationParam } from '../shared/http/params.js';
import { z } from 'zod';
import { PAT_API_VERSIONS, pagedPatTokensSchema, patTokenResultSchema, patValidationCode, patsGetQuery } from '../shared/tokens/schemas.js';
import { getPat, listPats, patContextOf } from '../shared/tokens/service.js';

/** `GET /_apis/tokens/pats`: one PAT with `authorizationId` (Pats_Get), otherwise a page of PATs (Pats_List). */
export const patsGet = endpoint({
  name: 'pats-get',
  route: '{organization}/_apis/tokens/pats',
  location: { id: '55967393-20ef-45c6-a96c-b5d5d5986a9a', area: 'Tokens', resource: 'pats' },
  methods: ['GET'],
  summary: "Gets one of the caller's PATs (authorizationId) or lists them (filters, sort, paging).",
  tags: ['PATs'],
  apiVersions: PAT_API_VERSIONS,
  access: { users: { scopes: ['vso.pats', 'vso.pats_manage'] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  query: patsGetQuery,
  errorEnvelope: 'patTokenResult',
  validationCode: patValidationCode,
  responses: {
    200: { description: 'PatTokenResult (with authorizationId) or PagedPatTokens.', schema: z.union([patTokenResultSchema, pagedPatTokensSchema]) },
  },
  handler: async (input) => {
    const context = patContextOf(input);
    if (input.query.authorizationId) {
      return { body: { patToken: await getPat(context, input.query.authorizationId), patTokenError: 'none' } };
    }
    return { body: await listPats(context, input.query) };
  },
});
