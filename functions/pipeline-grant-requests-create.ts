import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { submitGrantRequest } from '../shared/pipelines/service.js';
import { createGrantRequestBody, grantRequestSchema, grantRequestView, submissionErrorCode } from '../shared/pipelines/schemas.js';

export const pipelineGrantRequestsCreate = endpoint({
  name: 'pipeline-grant-requests-create',
  route: '{organization}/_apis/pipelines/freegrantrequests',
  location: { id: '8e454ad1-7aad-4327-b076-4360f69065a6', area: 'pipelines', resource: 'freegrantrequests' },
  methods: ['POST'],
  summary:
    'Requests free parallel jobs for public projects (Project Collection Administrators or administrators of a public project). One open request per organization; the grant-review timer decides.',
  tags: ['Pipeline grants'],
  apiVersions: API_VERSIONS.pipelineGrants,
  access: { users: { scopes: USER_SCOPES.buildExecute }, organization: 'member' },
  params: organizationParam,
  body: createGrantRequestBody,
  validationCode: (where, issue) => (where === 'body' ? submissionErrorCode(issue) : undefined),
  responses: {
    201: { description: 'Submitted (status pending).', schema: grantRequestSchema },
    400: {
      description:
        'invalidRepositoryLink, invalidDescription, invalidRequesterEmail, invalidRequesterName, invalidProjects, projectNotFound, projectNotPublic, invalidRequestBody',
    },
    403: { description: 'accessDenied' },
    409: { description: 'openRequestExists, grantAlreadyActive' },
    429: { description: 'creationRateLimited: too many free grant requests from this identity recently (Retry-After).' },
  },
  handler: async (input) => {
    const created = await submitGrantRequest(input, input.body);
    const view = grantRequestView(created, 'organization');
    return { status: 201, body: view, headers: { Location: view.url } };
  },
});
