import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { AUDIT_READ_SCOPE, recordAuditAccess } from '../shared/audit/access.js';
import { resolveWindow, timeParam } from '../shared/audit/query.js';
import { getAuditSettings } from '../shared/audit/repository.js';
import { BROKEN_LINK_REASONS, verifyAuditChains } from '../shared/audit/verify.js';

/** The longest window one verify call recomputes (every event of every day in it is read). */
export const VERIFY_MAX_DAYS = 31;

const nullableTime = z.string().nullable();

export const verifyResultSchema = z.object({
  intact: z.boolean().describe('True when no broken link was found in the window.'),
  startTime: z.string(),
  endTime: z.string(),
  daysChecked: z.number().int(),
  eventsChecked: z.number().int(),
  chains: z.array(
    z.object({
      day: z.string().describe('UTC day, yyyyMMdd.'),
      events: z.number().int(),
      headHash: z.string().nullable(),
      checkpointedSequence: z.number().int().nullable().describe('The highest sequence of the day a valid signed checkpoint vouches for.'),
      checkpointedAt: nullableTime.describe('When that checkpoint was written (set by the storage service).'),
    }),
  ),
  firstBrokenLink: z
    .object({
      day: z.string(),
      reason: z.enum(BROKEN_LINK_REASONS),
      sequence: z.number().int().nullable(),
      eventId: z.string().nullable(),
      message: z.string(),
    })
    .nullable(),
  checkpointCoverage: z
    .object({
      available: z.boolean().describe('False when blob storage is not configured: only the hash chains were checked.'),
      checked: z.number().int().describe('Valid signed checkpoints compared with the chains.'),
      unverifiable: z.number().int().describe('Checkpoints signed under a pepper version no longer configured; not used as proof.'),
      latestCheckpointTime: nullableTime.describe('When the newest valid checkpoint of the window was written.'),
      eventsCovered: z
        .number()
        .int()
        .describe("Events at or below their day's highest checkpoint: a change, removal or addition is detected even with the hashes recomputed."),
      eventsNotCovered: z.number().int().describe('Events after it: protected by the hash chain alone until the next checkpoint.'),
    })
    .describe('What the signed checkpoints outside the audit table prove about this window.'),
});

export const auditVerify = endpoint({
  name: 'audit-verify',
  route: '{organization}/_apis/audit/verify',
  location: { id: 'cac512f6-9f47-4e99-b042-5028f5e44f8f', area: 'audit', resource: 'verify' },
  methods: ['GET'],
  summary: `Recomputes the audit hash chains of the days in a window (at most ${VERIFY_MAX_DAYS} days), compares them with the signed checkpoints kept outside the audit table and reports the first broken link (Project Collection Administrators).`,
  tags: ['Audit'],
  apiVersions: API_VERSIONS.audit,
  access: { users: { scopes: [AUDIT_READ_SCOPE] }, organization: 'administrator' },
  params: organizationParam,
  query: z.object({ startTime: timeParam.optional(), endTime: timeParam.optional() }),
  responses: { 200: { description: 'Whether the chains are intact, the first broken link, and what the checkpoints cover.', schema: verifyResultSchema } },
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
