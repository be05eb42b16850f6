import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { listOf } from '../shared/directory/schemas.js';
import { listGrantRequests } from '../shared/pipelines/service.js';
import { grantRequestSchema, grantRequestView } from '../shared/pipelines/schemas.js';

export const pipelineGrantRequestsList = endpoint({
  name: 'pipeline-grant-requests-list',
  route: '{organization}/_apis/pipelines/freegrantrequests',
  location: { id: '8e454ad1-7aad-4327-b076-4360f69065a6', area: 'pipelines', resource: 'freegrantrequests' },
  methods: ['GET'],
  summary: "The organization's free grant requests, newest first, with their status and the reasons of each decision.",
  tags: ['Pipeline grants'],
  apiVersions: API_VERSIONS.pipelineGrants,
  access: { users: { scopes: USER_SCOPES.build }, organization: 'member' },
  params: organizationParam,
  responses: { 200: { description: 'The requests.', schema: listOf(grantRequestSchema) }, 403: { description: 'accessDenied' } },
  handler: async ({ app, organization }) => {
    const requests = await listGrantRequests(app, organization);
    return { body: { count: requests.length, value: requests.map((request) => grantRequestView(request, 'organization')) } };
  },
});
