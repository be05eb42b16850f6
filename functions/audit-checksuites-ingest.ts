import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { AUDIT_INGEST_APP_ROLES } from '../shared/audit/access.js';
import { checkSuiteBody, checkSuiteResultSchema, ingestCheckSuite } from '../shared/audit/checksuites.js';

export const auditCheckSuitesIngest = endpoint({
  name: 'audit-checksuites-ingest',
  route: '{organization}/_apis/audit/checksuites',
  location: { id: 'a801c041-7821-44ee-9412-73b4a00757e4', area: 'audit', resource: 'checksuites' },
  methods: ['POST'],
  summary: 'Records a completed check suite with every approver as a CheckSuite.Completed audit event (the pipelines service).',
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access: { apps: { roles: [...AUDIT_INGEST_APP_ROLES] }, organization: 'member' },
  params: organizationParam,
  body: checkSuiteBody,
  responses: {
    201: { description: 'Stored.', schema: checkSuiteResultSchema },
    200: { description: 'Already stored (a retried request).', schema: checkSuiteResultSchema },
    413: { description: 'requestBodyTooLarge' },
  },
  handler: async (input) => {
    const result = await ingestCheckSuite(input, input.body);
    return { status: result.status === 'created' ? 201 : 200, body: result };
  },
});
