import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { SERVICE_ROLES } from '../shared/auth/roles.js';
import { revokeGrant } from '../shared/pipelines/service.js';
import { capacitySchema, capacityView, grantRevocationBody } from '../shared/pipelines/schemas.js';

export const operatorGrantRevoke = endpoint({
  name: 'operator-grant-revoke',
  route: '_apis/pipelines/freegrants/{organization}/revoke',
  location: { id: 'd9d647b4-8a4d-4aef-8caa-adf9a158a7fd', area: 'pipelines', resource: 'freegrantrevocations' },
  methods: ['POST'],
  summary: "Revokes an organization's free grant, with a comment: public projects drop to 0 free parallel jobs (Gatehouse.Operator).",
  tags: ['Pipeline grants (operators)'],
  apiVersions: API_VERSIONS.pipelineGrants,
  access: { users: { scopes: USER_SCOPES.buildExecute, roles: [SERVICE_ROLES.operator] }, apps: { roles: [SERVICE_ROLES.operator] } },
  params: organizationParam,
  body: grantRevocationBody,
  responses: {
    200: { description: 'Revoked; the updated capacity record.', schema: capacitySchema },
    404: { description: 'organizationNotFound' },
    409: { description: 'noActiveGrant' },
  },
  handler: async (input) => {
    const capacity = await revokeGrant(input, input.params.organization, input.body.comment);
    return { body: capacityView(capacity) };
  },
});
