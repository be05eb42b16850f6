import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { createOrganization, organizationView } from '../shared/directory/service.js';
import { ensureCapacityRecord } from '../shared/pipelines/service.js';
import { createOrganizationBody, organizationSchema } from '../shared/directory/schemas.js';

export const organizationsCreate = endpoint({
  name: 'organizations-create',
  route: '_apis/organizations',
  location: { id: 'e2585d8c-65c2-4dea-b1a6-51e38908461c', area: 'organization', resource: 'organizations' },
  methods: ['POST'],
  summary: 'Creates an organization; the caller becomes its first Project Collection Administrator.',
  tags: ['Organizations'],
  apiVersions: API_VERSIONS.core,
  access: { users: { scopes: USER_SCOPES.profileWrite } },
  body: createOrganizationBody,
  responses: {
    201: { description: 'Created.', schema: organizationSchema },
    409: { description: 'The name is taken (organizationNameTaken).' },
    429: { description: 'creationRateLimited: too many organizations created by this identity or its tenant recently (Retry-After).' },
  },
  handler: async (input) => {
    const organization = await createOrganization(input, input.body);
    // Every organization has a pipeline capacity record: private defaults, no free public jobs.
    await ensureCapacityRecord(input.app, organization);
    return { status: 201, body: organizationView(organization), headers: { Location: `/${organization.name}` } };
  },
});
