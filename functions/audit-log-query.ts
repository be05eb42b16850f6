import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { AUDIT_READ_APP_ROLE, AUDIT_READ_SCOPE, assertAuditReader, recordAuditAccess } from '../shared/audit/access.js';
import { booleanParam, filterParams, queryAuditLog, timeParam } from '../shared/audit/query.js';
import { getAuditSettings } from '../shared/audit/repository.js';

const query = z.object({
  startTime: timeParam.optional(),
  endTime: timeParam.optional(),
  batchSize: z
    .string()
    .regex(/^\d{1,6}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().int().min(1).max(1000))
    .optional()
    .describe('1 to 1000 (default 100)'),
  continuationToken: z.string().max(2048).optional(),
  skipAggregation: booleanParam.optional(),
  ...filterParams,
});

export const auditLogQuery = endpoint({
  name: 'audit-log-query',
  route: '{organization}/_apis/audit/auditlog',
  location: { id: '4e5fa14f-7097-4b73-9c85-00abc7353c61', area: 'audit', resource: 'auditLog' },
  methods: ['GET'],
  summary: 'Queries the audit log, newest first (Project Collection Administrators and audit readers).',
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access: { users: { scopes: [AUDIT_READ_SCOPE] }, apps: { roles: [AUDIT_READ_APP_ROLE] }, organization: 'member', pats: { scopes: [AUDIT_READ_SCOPE] } },
  params: organizationParam,
  query,
  responses: { 200: { description: 'AuditLogQueryResult: decoratedAuditLogEntries, continuationToken, hasMore.' } },
  handler: async (input) => {
    const { app, organization, query } = input;
    await assertAuditReader(input);
    const { retentionDays } = await getAuditSettings(app, organization.organization.id);
    const result = await queryAuditLog(app, {
      organizationId: organization.organization.id,
      retentionDays,
      startTime: query.startTime,
      endTime: query.endTime,
      batchSize: query.batchSize ?? 100,
      continuationToken: query.continuationToken,
      skipAggregation: query.skipAggregation ?? false,
      filters: { actionId: query.actionId, area: query.area, actor: query.actor, projectId: query.projectId },
    });
    await recordAuditAccess(input, {
      Operation: 'query',
      StartTime: query.startTime ?? null,
      EndTime: query.endTime ?? null,
      Entries: result.decoratedAuditLogEntries.length,
    });
    return { body: result };
  },
});
