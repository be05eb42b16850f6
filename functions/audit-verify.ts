import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { AUDIT_READ_SCOPE, recordAuditAccess } from '../shared/audit/access.js';
import { resolveWindow, timeParam } from '../shared/audit/query.js';
import { getAuditSettings } from '../shared/audit/repository.js';
import { verifyAuditChains } from '../shared/audit/verify.js';

/** The longest window one verify call recomputes (every event of every day in it is read). */
export const VERIFY_MAX_DAYS = 31;

export const auditVerify = endpoint({
  name: 'audit-verify',
  route: '{organization}/_apis/audit/verify',
  location: { id: 'cac512f6-9f47-4e99-b042-5028f5e44f8f', area: 'audit', resource: 'verify' },
  methods: ['GET'],
  summary: `Recomputes the audit hash chains of the days in a window (at most ${VERIFY_MAX_DAYS} days) and reports the first broken link (Project Collection Administrators).`,
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access: { users: { scopes: [AUDIT_READ_SCOPE] }, organization: 'administrator' },
  params: organizationParam,
  query: z.object({ startTime: timeParam.optional(), endTime: timeParam.optional() }),
  responses: { 200: { description: 'intact, daysChecked, eventsChecked, chains, firstBrokenLink.' } },
  handler: async (input) => {
    const { app, organization, query } = input;
    const organizationId = organization.organization.id;
    const { retentionDays } = await getAuditSettings(app, organizationId);
    const window = resolveWindow(app.clock.now().getTime(), retentionDays, query.startTime, query.endTime, VERIFY_MAX_DAYS);
    await recordAuditAccess(input, {
      Operation: 'verify',
      StartTime: new Date(window.startMs).toISOString(),
      EndTime: new Date(window.endMs).toISOString(),
    });
    return { body: await verifyAuditChains(app, organizationId, window) };
  },
});
