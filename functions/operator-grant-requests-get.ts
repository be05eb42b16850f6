import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { SERVICE_ROLES } from '../shared/auth/roles.js';
import { getRequestForOperators } from '../shared/pipelines/service.js';
import { grantRequestSchema, grantRequestView, requestIdParam } from '../shared/pipelines/schemas.js';

export const operatorGrantRequestsGet = endpoint({
  name: 'operator-grant-requests-get',
  route: '_apis/pipelines/freegrantrequests/{requestId}',
  location: { id: 'a2eb4bec-a986-408f-8dc2-c47ae4537432', area: 'pipelines', resource: 'freegrantrequests' },
  methods: ['GET'],
  summary: 'One free grant request with the operator-only details of its reasons (Gatehouse.Operator).',
  tags: ['Pipeline grants (operators)'],
  apiVersions: API_VERSIONS.pipelineGrants,
  access: { users: { scopes: USER_SCOPES.build, roles: [SERVICE_ROLES.operator] }, apps: { roles: [SERVICE_ROLES.operator] } },
  params: requestIdParam,
  responses: { 200: { description: 'The request.', schema: grantRequestSchema }, 404: { description: 'grantRequestNotFound' } },
  handler: async ({ app, params }) => ({ body: grantRequestView(await getRequestForOperators(app, params.requestId), 'operator') }),
});
