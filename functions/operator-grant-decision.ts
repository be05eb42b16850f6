import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { SERVICE_ROLES } from '../shared/auth/roles.js';
import { decideGrantRequest } from '../shared/pipelines/service.js';
import { grantDecisionBody, grantRequestSchema, grantRequestView, requestIdParam } from '../shared/pipelines/schemas.js';

export const operatorGrantDecision = endpoint({
  name: 'operator-grant-decision',
  route: '_apis/pipelines/freegrantrequests/{requestId}/decision',
  location: { id: '7fdef981-1950-4fa8-8d89-049fd4b141df', area: 'pipelines', resource: 'freegrantdecisions' },
  methods: ['POST'],
  summary: 'Approves or rejects a request in manual review, with a comment (Gatehouse.Operator). A request gets one decision.',
  tags: ['Pipeline grants (operators)'],
  apiVersions: API_VERSIONS.pipelineGrants,
  access: { users: { scopes: USER_SCOPES.buildExecute, roles: [SERVICE_ROLES.operator] }, apps: { roles: [SERVICE_ROLES.operator] } },
  params: requestIdParam,
  body: grantDecisionBody,
  responses: {
    200: { description: 'Decided.', schema: grantRequestSchema },
    404: { description: 'grantRequestNotFound' },
    409: { description: 'requestAlreadyDecided, requestNotInManualReview, concurrentModification' },
  },
  handler: async (input) => {
    const decided = await decideGrantRequest(input, input.params.requestId, input.body);
    return { body: grantRequestView(decided, 'operator') };
  },
});
