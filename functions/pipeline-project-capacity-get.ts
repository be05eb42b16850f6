import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationProjectParam } from '../shared/http/params.js';
import { SERVICE_ROLES } from '../shared/auth/roles.js';
import { getProject } from '../shared/directory/service.js';
import { getCapacity } from '../shared/pipelines/service.js';
import { projectCapacitySchema, projectCapacityView } from '../shared/pipelines/schemas.js';

export const pipelineProjectCapacityGet = endpoint({
  name: 'pipeline-project-capacity-get',
  route: '{organization}/{project}/_apis/pipelines/capacity',
  location: { id: 'faaabad7-b300-48e9-bc31-f089d9d166ca', area: 'pipelines', resource: 'capacity' },
  methods: ['GET'],
  summary: "A project's free pipeline capacity: public projects share the organization's grant, private ones the private default.",
  tags: ['Pipeline grants'],
  apiVersions: API_VERSIONS.pipelineGrants,
  // Project-Scoped Users may read the projects they belong to (getProject hides the others).
  access: { users: { scopes: USER_SCOPES.build }, apps: { roles: [SERVICE_ROLES.pipelines] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationProjectParam,
  responses: { 200: { description: 'The project capacity.', schema: projectCapacitySchema }, 404: { description: 'projectNotFound' } },
  handler: async ({ app, organization, params }) => {
    const project = await getProject(app, organization, params.project);
    return { body: projectCapacityView(await getCapacity(app, organization.organization), project) };
  },
});
