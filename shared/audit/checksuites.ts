import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import type { OrganizationScope } from '../request-scope.js';
import { AppError, badRequest, restErrorStatus } from '../http/errors.js';
import { readEntity } from '../storage/entities.js';
import { actorOf, organizationEvent, type AuditContext } from './context.js';
import { normalizeAuditEvent } from './events.js';
import { InvalidAuditEvent, parseAuditEvent, writeAuditEvent } from './writer.js';
import { auditSettingsTable, firstRetainedDay, dayKey, getAuditSettings } from './repository.js';
import { guidText } from '../ids.js';

/**
 * Pipeline approver details: the pipelines service posts a check suite once it reaches a final state,
 * and it becomes one `CheckSuite.Completed` event (area Checks, category execute) keeping every check
 * run and every approver. Azure DevOps drops `CheckRuns` past 4,000 characters; Gatehouse keeps them
 * (data too large for a table property goes to a blob, see writer.ts). The only bound is the request
 * body limit (MAX_REQUEST_BODY_BYTES): a larger body is a 413 and nothing is stored.
 *
 * The event is written synchronously by the same writer as queued events (a check suite can exceed
 * the 64 KiB queue message limit). Its id derives from the organization and check suite id, so a
 * retried POST is a duplicate, not a second entry.
 */
const time = z.iso.datetime({ offset: true });
const name = z.string().min(1).max(256);

export const CHECK_SUITE_FINAL_STATUSES = ['approved', 'rejected', 'canceled', 'timedOut', 'failed', 'skipped'] as const;
export const APPROVER_DECISIONS = ['approved', 'rejected', 'deferred', 'reassigned', 'skipped', 'pending'] as const;

export const approverSchema = z
  .object({
    id: guidText,
    displayName: name,
    uniqueName: z.string().max(256).optional(),
    decision: z.enum(APPROVER_DECISIONS),
    comment: z.string().max(4000).optional(),
    decidedOn: time.optional(),
  })
  .strict();

export const checkRunSchema = z
  .object({
    id: guidText,
    type: name.describe('e.g. Approval, BranchControl, ExclusiveLock'),
    status: z.enum(CHECK_SUITE_FINAL_STATUSES),
    resource: z
      .object({ type: name, id: z.string().min(1).max(256), name: name.optional() })
      .strict()
      .optional(),
    approvers: z.array(approverSchema).max(20_000).default([]),
  })
  .strict();

export const checkSuiteBody = z
  .object({
    checkSuiteId: guidText,
    status: z.enum(CHECK_SUITE_FINAL_STATUSES),
    completedOn: time,
    projectId: guidText,
    pipeline: z.object({ id: z.number().int().min(0), name }).strict(),
    run: z.object({ id: z.number().int().min(0), name }).strict(),
    stage: z.object({ name, attempt: z.number().int().min(1).max(1000).optional() }).strict(),
    checkRuns: z.array(checkRunSchema).min(1).max(1000),
  })
  .strict();

export type CheckSuiteBody = z.infer<typeof checkSuiteBody>;

export const checkSuiteResultSchema = z.object({ eventId: z.string(), status: z.enum(['created', 'duplicate']), approvers: z.number() });

/** A stable GUID (version 5 layout) from a name: the event id of one check suite in one organization. */
export function stableGuid(name: string): string {
  const bytes = createHash('sha256').update(name).digest().subarray(0, 16);
  bytes[6] = ((bytes[6] ?? 0) & 0x0f) | 0x50;
  bytes[8] = ((bytes[8] ?? 0) & 0x3f) | 0x80;
  const hex = bytes.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** A check suite reports what happened: its completion may lie at most this far ahead of the clock. */
const COMPLETED_ON_SKEW_MS = 5 * 60_000;

/**
 * Claims a check suite id for the organization (row `checksuite_<id>` in `auditsettings`), so that a
 * suite posted again on another day is the same event, stored once. Answers the completion time of
 * the first post, which every later post of the same suite is stored under (and so found duplicate).
 */
async function claimCheckSuite(app: AppContext, organizationId: string, checkSuiteId: string, eventId: string, completedMs: number): Promise<number> {
  const table = auditSettingsTable(app);
  const rowKey = `checksuite_${checkSuiteId}`;
  try {
    await table.createEntity({ partitionKey: organizationId, rowKey, EventId: eventId, CompletedOn: new Date(completedMs).toISOString() });
    return completedMs;
  } catch (error) {
    if (restErrorStatus(error) !== 409) throw error;
    const claimed = await readEntity<{ CompletedOn: string }>(table, organizationId, rowKey);
    return claimed ? Date.parse(claimed.CompletedOn) : completedMs;
  }
}

export async function ingestCheckSuite(
  { app, caller, organization: access, audit: { activityId } }: OrganizationScope,
  body: CheckSuiteBody,
): Promise<{ eventId: string; status: 'created' | 'duplicate'; approvers: number }> {
  const organization = access.organization;
  const project = await app.directory.getProject(organization.id, body.projectId.toLowerCase());
  if (!project) throw badRequest('projectNotFound', `The project ${body.projectId} does not exist in this organization.`);

  const nowMs = app.clock.now().getTime();
  if (Date.parse(body.completedOn) > nowMs + COMPLETED_ON_SKEW_MS) throw badRequest('invalidCompletedOn', 'completedOn lies in the future.');
  const { retentionDays } = await getAuditSettings(app, organization.id);
  if (dayKey(Date.parse(body.completedOn)) < firstRetainedDay(nowMs, retentionDays)) {
    throw badRequest('invalidCompletedOn', `completedOn is older than the audit retention of ${retentionDays} days.`);
  }
  const eventId = stableGuid(`gatehouse-checksuite|${organization.id}|${body.checkSuiteId.toLowerCase()}`);

  let approvers = 0;
  const checkRuns = body.checkRuns.map((run) => {
    approvers += run.approvers.length;
    return {
      Id: run.id.toLowerCase(),
      Type: run.type,
      Status: run.status,
      ...(run.resource ? { ResourceType: run.resource.type, ResourceId: run.resource.id, ResourceName: run.resource.name } : {}),
      Approvers: run.approvers.map((approver) => ({
        Id: approver.id.toLowerCase(),
        DisplayName: approver.displayName,
        UniqueName: approver.uniqueName,
        Decision: approver.decision,
        Comment: approver.comment,
        DecidedOn: approver.decidedOn,
      })),
    };
  });
  const context: AuditContext = { actor: actorOf(caller), ipAddress: undefined, userAgent: undefined, activityId, correlationId: activityId };
  const built = organizationEvent(app, context, organization, {
    actionId: 'CheckSuite.Completed',
    project,
    data: {
      CheckSuiteId: body.checkSuiteId.toLowerCase(),
      CheckSuiteStatus: body.status,
      ProjectId: project.id,
      PipelineId: body.pipeline.id,
      PipelineName: body.pipeline.name,
      RunId: body.run.id,
      RunName: body.run.name,
      StageName: body.stage.name,
      ...(body.stage.attempt ? { StageAttempt: body.stage.attempt } : {}),
      CheckRuns: checkRuns,
    },
  });
  // The suite's own id: a repeated post is the same event. It is checked before the suite is claimed,
  // so a refused post leaves nothing behind.
  try {
    const event = parseAuditEvent(normalizeAuditEvent({ ...built, id: eventId, timestamp: new Date(body.completedOn).toISOString() }));
    // One event per check suite, whatever day a repeated post names: the first post's time wins.
    const completedMs = await claimCheckSuite(app, organization.id, body.checkSuiteId.toLowerCase(), eventId, Date.parse(body.completedOn));
    const outcome = await writeAuditEvent(app, { ...event, timestamp: new Date(completedMs).toISOString() });
    return { eventId, status: outcome.status === 'written' ? 'created' : 'duplicate', approvers };
  } catch (error) {
    if (error instanceof InvalidAuditEvent) throw new AppError(400, 'invalidCheckSuite', `The check suite cannot be stored: ${error.reason}`);
    throw error;
  }
}
