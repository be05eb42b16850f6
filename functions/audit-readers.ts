import { USER_SCOPES } from '../shared/auth/scopes.js';
import { z } from 'zod';
import { noRequestBody } from '../shared/http/body-rules.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam, organizationUserParam } from '../shared/http/params.js';
import { auditReaderSchema, grantAuditReader, listAuditReaders, revokeAuditReader } from '../shared/audit/access.js';
import { guidText } from '../shared/ids.js';

const userParam = organizationUserParam.extend({
  userId: guidText.transform((id) => id.toLowerCase()),
});
const access = { users: { scopes: USER_SCOPES.auditManage }, organization: 'administrator' } as const;

export const auditReadersList = endpoint({
  name: 'audit-readers-list',
  route: '{organization}/_apis/audit/readers',
  location: { id: '96de7c56-4101-4ea6-bc74-e0cbb4edf0e7', area: 'audit', resource: 'readers' },
  methods: ['GET'],
  summary: 'Members granted audit log reading besides the Project Collection Administrators.',
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access,
  params: organizationParam,
  responses: { 200: { description: 'The readers.', schema: z.object({ count: z.number(), value: z.array(auditReaderSchema) }) } },
  handler: async ({ app, organization }) => {
    const value = await listAuditReaders(app, organization.organization.id);
    return { body: { count: value.length, value } };
  },
});

export const auditReadersGrant = endpoint({
  name: 'audit-readers-grant',
  route: '{organization}/_apis/audit/readers/{userId}',
  location: { id: '96de7c56-4101-4ea6-bc74-e0cbb4edf0e7', area: 'audit', resource: 'readers' },
  methods: ['PUT'],
  summary: 'Grants a member audit log reading (not Project-Scoped Users).',
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access,
  params: userParam,
  body: noRequestBody,
  responses: {
    200: { description: 'Already granted.', schema: auditReaderSchema },
    201: { description: 'Granted.', schema: auditReaderSchema },
    404: { description: 'memberNotFound' },
    409: { description: 'readerNotEligible' },
  },
  handler: async (input) => {
    const { reader, created } = await grantAuditReader(input, input.params.userId);
    return { status: created ? 201 : 200, body: reader };
  },
});

export const auditReadersRevoke = endpoint({
  name: 'audit-readers-revoke',
  route: '{organization}/_apis/audit/readers/{userId}',
  location: { id: '96de7c56-4101-4ea6-bc74-e0cbb4edf0e7', area: 'audit', resource: 'readers' },
  methods: ['DELETE'],
  summary: "Removes a member's audit log reading grant.",
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access,
  params: userParam,
  responses: { 204: { description: 'Removed.' }, 404: { description: 'readerNotFound' } },
  handler: async (input) => {
    await revokeAuditReader(input, input.params.userId);
    return { status: 204 };
  },
});
