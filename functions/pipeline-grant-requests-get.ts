import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { getGrantRequest } from '../shared/pipelines/service.js';
import { grantRequestSchema, grantRequestView, organizationRequestParams } from '../shared/pipelines/schemas.js';

export const pipelineGrantRequestsGet = endpoint({
  name: 'pipeline-grant-requests-get',
  route: '{organization}/_apis/pipelines/freegrantrequests/{requestId}',
  location: { id: '8e454ad1-7aad-4327-b076-4360f69065a6', area: 'pipelines', resource: 'freegrantrequests' },
  methods: ['GET'],
  summary: 'One free grant request of the organization.',
  tags: ['Pipeline grants'],
  apiVersions: API_VERSIONS.pipelineGrants,
  access: { users: { scopes: USER_SCOPES.build }, organization: 'member' },
  params: organizationRequestParams,
  responses: {
    200: { description: 'The request.', schema: grantRequestSchema },
    403: { description: 'accessDenied' },
    404: { description: 'grantRequestNotFound' },
  },
  handler: async ({ app, organization, params }) => ({
    body: grantRequestView(await getGrantRequest(app, organization, params.requestId), 'organization'),
  }),
});
