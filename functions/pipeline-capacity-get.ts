import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { SERVICE_ROLES } from '../shared/auth/roles.js';
import { getCapacity } from '../shared/pipelines/service.js';
import { capacitySchema, capacityView } from '../shared/pipelines/schemas.js';

export const pipelineCapacityGet = endpoint({
  name: 'pipeline-capacity-get',
  route: '{organization}/_apis/pipelines/capacity',
  location: { id: 'faaabad7-b300-48e9-bc31-f089d9d166ca', area: 'pipelines', resource: 'capacity' },
  methods: ['GET'],
  summary: "The organization's free pipeline capacity (public and private projects) and the status of its free grant.",
  tags: ['Pipeline grants'],
  apiVersions: API_VERSIONS.pipelineGrants,
  access: { users: { scopes: USER_SCOPES.build }, apps: { roles: [SERVICE_ROLES.pipelines] }, organization: 'member' },
  params: organizationParam,
  responses: { 200: { description: 'The capacity record.', schema: capacitySchema } },
  handler: async ({ app, organization }) => ({ body: capacityView(await getCapacity(app, organization.organization)) }),
});
