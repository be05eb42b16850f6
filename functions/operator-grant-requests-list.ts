import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { SERVICE_ROLES } from '../shared/auth/roles.js';
import { listOf } from '../shared/directory/schemas.js';
import { listRequestsForOperators } from '../shared/pipelines/service.js';
import { grantRequestSchema, grantRequestView, operatorListQuery } from '../shared/pipelines/schemas.js';

export const operatorGrantRequestsList = endpoint({
  name: 'operator-grant-requests-list',
  route: '_apis/pipelines/freegrantrequests',
  location: { id: 'a2eb4bec-a986-408f-8dc2-c47ae4537432', area: 'pipelines', resource: 'freegrantrequests' },
  methods: ['GET'],
  summary: 'Free grant requests of every organization by status (default manualReview), oldest open first (Gatehouse.Operator).',
  tags: ['Pipeline grants (operators)'],
  apiVersions: API_VERSIONS.pipelineGrants,
  access: { users: { scopes: USER_SCOPES.build, roles: [SERVICE_ROLES.operator] }, apps: { roles: [SERVICE_ROLES.operator] } },
  query: operatorListQuery,
  responses: { 200: { description: 'The requests.', schema: listOf(grantRequestSchema) }, 403: { description: 'missingRole, missingAppRole' } },
  handler: async ({ app, query }) => {
    const requests = await listRequestsForOperators(app, query);
    return { body: { count: requests.length, value: requests.map((request) => grantRequestView(request, 'operator')) } };
  },
});
