import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { listProjects, projectView } from '../shared/directory/service.js';
import { listOf, projectSchema } from '../shared/directory/schemas.js';

export const projectsList = endpoint({
  name: 'projects-list',
  route: '{organization}/_apis/projects',
  location: { id: '603fe2ac-9723-48b9-88ad-09305aa6c6e1', area: 'core', resource: 'projects', routeTemplate: '_apis/projects/{*projectId}' },
  methods: ['GET'],
  summary: 'Projects of the organization the caller can see.',
  tags: ['Projects'],
  apiVersions: API_VERSIONS.core,
  access: { users: { scopes: [] }, apps: { roles: [] }, organization: 'member', projectScopedUsers: 'allowed' },
  params: organizationParam,
  responses: { 200: { description: 'The projects.', schema: listOf(projectSchema) } },
  handler: async ({ app, organization }) => {
    const projects = await listProjects(app, organization!);
    return { body: { count: projects.length, value: projects.map((p) => projectView(p, organization!.organization.name)) } };
  },
});
