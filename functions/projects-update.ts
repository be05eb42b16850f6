import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationProjectParam } from '../shared/http/params.js';
import { projectView, updateProject } from '../shared/directory/service.js';
import { projectSchema, updateProjectBody } from '../shared/directory/schemas.js';

export const projectsUpdate = endpoint({
  name: 'projects-update',
  route: '{organization}/_apis/projects/{project}',
  location: { id: '603fe2ac-9723-48b9-88ad-09305aa6c6e1', area: 'core', resource: 'projects', routeTemplate: '_apis/projects/{*projectId}' },
  methods: ['PATCH'],
  summary: "Changes a project's description or visibility (Project Collection Administrators).",
  tags: ['Projects'],
  apiVersions: API_VERSIONS.core,
  access: { users: { scopes: USER_SCOPES.projectWrite }, organization: 'administrator', pats: { scopes: ['vso.project_write'] } },
  params: organizationProjectParam,
  body: updateProjectBody,
  responses: { 200: { description: 'The updated project.', schema: projectSchema } },
  handler: async (input) => ({
    body: projectView(await updateProject(input, input.params.project, input.body), input.organization.organization.name),
  }),
});
