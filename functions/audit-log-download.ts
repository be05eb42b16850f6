import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { AUDIT_READ_APP_ROLE, AUDIT_READ_SCOPE, assertAuditReader, recordAuditAccess } from '../shared/audit/access.js';
import { downloadStream } from '../shared/audit/download.js';
import { resolveWindow, timeParam } from '../shared/audit/query.js';
import { getAuditSettings } from '../shared/audit/repository.js';
import { atRoute } from '../shared/runtime/declarations.js';

const query = z.object({
  format: z.enum(['json', 'csv', 'JSON', 'CSV', 'Json', 'Csv']).transform((value) => value.toLowerCase() as 'json' | 'csv'),
  startTime: timeParam.optional(),
  endTime: timeParam.optional(),
});

export const auditLogDownload = endpoint({
  name: 'audit-log-download',
  route: '{organization}/_apis/audit/downloadlog',
  location: { id: 'b7b98a76-04e8-4f4d-ac72-9d46492caaac', area: 'audit', resource: 'downloadLog' },
  methods: ['GET'],
  summary: 'Downloads the audit log of a window as JSON or CSV, streamed (never aggregated).',
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access: { users: { scopes: [AUDIT_READ_SCOPE] }, apps: { roles: [AUDIT_READ_APP_ROLE] }, organization: 'member', pats: { scopes: [AUDIT_READ_SCOPE] } },
  params: organizationParam,
  query,
  responses: { 200: { description: 'The log file (application/octet-stream).', contentType: 'application/octet-stream' } },
  handler: async (input) => {
    const { app, organization, query } = input;
    await assertAuditReader(input);
    const organizationId = organization.organization.id;
    const { retentionDays } = await getAuditSettings(app, organizationId);
    const window = resolveWindow(app.clock.now().getTime(), retentionDays, query.startTime, query.endTime);
    await recordAuditAccess(input, {
      Operation: 'download',
      Format: query.format,
      StartTime: new Date(window.startMs).toISOString(),
      EndTime: new Date(window.endMs).toISOString(),
    });
    const stamp = (ms: number) => new Date(ms).toISOString().slice(0, 19).replace(/[-:]/g, '');
    const fileName = `audit-${organization.organization.name}-${stamp(window.startMs)}-${stamp(window.endMs)}.${query.format}`;
    return {
      stream: downloadStream(app, organizationId, window, query.format),
      contentType: 'application/octet-stream',
      headers: { 'Content-Disposition': `attachment; filename="${fileName}"` },
    };
  },
});

/** `_apis/audit/download`: the path Microsoft's own download example calls; the same resource. */
export const auditLogDownloadShort = atRoute(auditLogDownload, 'audit-log-download-short', '{organization}/_apis/audit/download');
