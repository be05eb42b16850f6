import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { createProject, projectView } from '../shared/directory/service.js';
import { createProjectBody, projectSchema } from '../shared/directory/schemas.js';

export const projectsCreate = endpoint({
  name: 'projects-create',
  route: '{organization}/_apis/projects',
  location: { id: '603fe2ac-9723-48b9-88ad-09305aa6c6e1', area: 'core', resource: 'projects', routeTemplate: '_apis/projects/{*projectId}' },
  methods: ['POST'],
  summary: 'Creates a project (Project Collection Administrators).',
  tags: ['Projects'],
  apiVersions: API_VERSIONS.core,
  access: { users: { scopes: USER_SCOPES.projectManage }, organization: 'administrator', pats: { scopes: ['vso.project_manage'] } },
  params: organizationParam,
  body: createProjectBody,
  responses: {
    201: { description: 'Created.', schema: projectSchema },
    409: { description: 'A project with that name exists (projectAlreadyExists).' },
  },
  handler: async (input) => {
    const project = await createProject(input, input.body);
    const view = projectView(project, input.organization.organization.name);
    return { status: 201, body: view, headers: { Location: view.url } };
  },
});
