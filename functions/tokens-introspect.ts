import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { introspect, introspectionRequest, introspectionResponse } from '../shared/tokens/self.js';

export const TOKEN_INTROSPECTION_ROLE = 'Gatehouse.TokenIntrospection';

/** `POST /_apis/tokens/introspect` (RFC 7662), for services holding the introspection app role. */
export const tokensIntrospect = endpoint({
  name: 'tokens-introspect',
  route: '_apis/tokens/introspect',
  location: { id: '4773ffc8-a8bf-4989-a285-2cd1d077822d', area: 'Tokens', resource: 'introspection' },
  apiVersions: API_VERSIONS.service,
  methods: ['POST'],
  summary: 'Token introspection (RFC 7662) of a PAT, form or JSON body `token=…`; only for the introspection app role.',
  tags: ['Using tokens'],
  access: { apps: { roles: [TOKEN_INTROSPECTION_ROLE] } },
  body: introspectionRequest,
  bodyFormat: 'json-or-form',
  responses: { 200: { description: 'Active: the token facts; anything else: exactly {"active": false}.', schema: introspectionResponse } },
  handler: async ({ app, caller, body }) => ({ body: await introspect(app, caller, body) }),
});
