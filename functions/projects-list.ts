import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { listProjects, projectView } from '../shared/directory/service.js';
import { listOf, projectListQuery, projectSchema } from '../shared/directory/schemas.js';

export const projectsList = endpoint({
  name: 'projects-list',
  route: '{organization}/_apis/projects',
  location: { id: '603fe2ac-9723-48b9-88ad-09305aa6c6e1', area: 'core', resource: 'projects', routeTemplate: '_apis/projects/{*projectId}' },
  methods: ['GET'],
  summary: 'Projects of the organization the caller can see.',
  tags: ['Projects'],
  apiVersions: API_VERSIONS.core,
  access: {
    users: { scopes: USER_SCOPES.project },
    apps: { roles: [] },
    organization: 'member',
    projectScopedUsers: 'allowed',
    pats: { scopes: ['vso.project'] },
  },
  params: organizationParam,
  query: projectListQuery,
  responses: { 200: { description: 'One page of projects, by name; `x-ms-continuationtoken` names the next page.', schema: listOf(projectSchema) } },
  handler: async ({ app, organization, query }) => {
    const start = query.continuationToken ?? query.$skip;
    const projects = await listProjects(app, organization);
    const page = projects.slice(start, start + query.$top);
    const next = start + page.length;
    return {
      body: { count: page.length, value: page.map((p) => projectView(p, organization.organization.name)) },
      ...(next < projects.length ? { headers: { 'x-ms-continuationtoken': String(next) } } : {}),
    };
  },
});
