import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationProjectParam } from '../shared/http/params.js';
import { getProject, projectView } from '../shared/directory/service.js';
import { projectSchema } from '../shared/directory/schemas.js';

export const projectsGet = endpoint({
  name: 'projects-get',
  route: '{organization}/_apis/projects/{project}',
  location: { id: '603fe2ac-9723-48b9-88ad-09305aa6c6e1', area: 'core', resource: 'projects', routeTemplate: '_apis/projects/{*projectId}' },
  methods: ['GET'],
  summary: 'One project, by id or name.',
  tags: ['Projects'],
  apiVersions: API_VERSIONS.core,
  access: {
    users: { scopes: USER_SCOPES.project },
    apps: { roles: [] },
    organization: 'member',
    projectScopedUsers: 'allowed',
    pats: { scopes: ['vso.project'] },
  },
  params: organizationProjectParam,
  responses: { 200: { description: 'The project.', schema: projectSchema }, 404: { description: 'projectNotFound' } },
  handler: async ({ app, organization, params }) => ({
    body: projectView(await getProject(app, organization, params.project), organization.organization.name),
  }),
});
