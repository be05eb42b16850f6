import { randomUUID } from 'node:crypto';
import type { AppContext } from '../app-context.js';
import { memoForApp } from '../app-memo.js';
import { takeCreationBudget } from '../http/rate-limit.js';
import { subjectKindOf } from '../auth/caller.js';
import { organizationEvent, systemAuditContext, type AuditContext } from '../audit/context.js';
import type { AuditEvent } from '../audit/events.js';
import type { AuditData } from '../audit/actions.js';
import { commitWithEvents } from '../audit/outbox.js';
import type { OrganizationAccess } from '../directory/access.js';
import type { CallerScope, OrganizationScope } from '../request-scope.js';
import type { Organization, Project } from '../directory/repository.js';
import { organizationNameSchema } from '../directory/schemas.js';
import { AppError, badRequest, ConcurrentModificationError, conflict, forbidden, notFound, organizationNotFound, restErrorStatus } from '../http/errors.js';
import { keyDigest } from './links.js';
import { notifyRequester, reviewedMessage, revokedMessage, submittedMessage } from './notify.js';
import { PipelineGrantRepository, type Versioned } from './repository.js';
import { reviewGrantRequest, type ReviewFacts } from './rules.js';
import type { CreateGrantRequestBody, GrantDecider, GrantRequest, GrantRequestStatus, PipelineCapacity, ReviewOutcome } from './schemas.js';
import { isGuid } from '../ids.js';
import { DAY_MS } from '../time.js';

/**
 * Free pipeline grants: organizations request free parallel jobs for their public projects, the
 * `grant-review` timer reviews pending requests with the rules in rules.ts, operators decide the
 * requests the rules sent to manual review and may revoke grants. Every change commits together with
 * its audit event (area Pipelines) through the outbox; the requester is notified afterwards.
 */

export const GRANT_ACTIONS = {
  requested: 'Pipelines.FreeGrantRequested',
  approved: 'Pipelines.FreeGrantApproved',
  rejected: 'Pipelines.FreeGrantRejected',
  manualReview: 'Pipelines.FreeGrantManualReview',
  revoked: 'Pipelines.FreeGrantRevoked',
} as const;

const SYSTEM_DECIDER: GrantDecider = { kind: 'system', id: 'grant-review', displayName: 'Gatehouse grant review' };

const repository = memoForApp((app) => new PipelineGrantRepository(app.storage));

async function commit(app: AppContext, actions: Parameters<typeof commitWithEvents>[2], events: AuditEvent[]): Promise<void> {
  await commitWithEvents(app, repository(app).tableName, actions, events);
}

type GrantActionId = (typeof GRANT_ACTIONS)[keyof typeof GRANT_ACTIONS];

function event<Id extends GrantActionId>(
  app: AppContext,
  context: AuditContext,
  request: Pick<GrantRequest, 'id' | 'organizationId' | 'organizationName'>,
  actionId: Id,
  data: Omit<AuditData<Id>, 'RequestId'>,
): AuditEvent {
  // Every event about one request shares its id as the correlation id.
  return organizationEvent(
    app,
    { ...context, correlationId: request.id },
    { id: request.organizationId, name: request.organizationName },
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- the compiler widens this without it; the rule sees the contextual type
    { actionId, data: { RequestId: request.id, ...data } as AuditData<Id> },
  );
}

// ---- capacity -----------------------------------------------------------------------------------------

export function defaultCapacity(app: AppContext, organization: Pick<Organization, 'id' | 'name'>): PipelineCapacity {
  const settings = app.config.pipelines;
  return {
    organizationId: organization.id,
    organizationName: organization.name,
    public: { parallelJobs: 0, maxMinutesPerJob: settings.publicGrant.maxMinutesPerJob },
    private: { ...settings.privateDefault },
    grant: { status: 'none' },
    updatedAt: app.clock.now().toISOString(),
  };
}

/** Creates the organization's capacity record when it has none (new organizations, demo data). */
export async function ensureCapacityRecord(app: AppContext, organization: Pick<Organization, 'id' | 'name'>): Promise<void> {
  const repo = repository(app);
  if (await repo.getCapacity(organization.id)) return;
  try {
    await app.storage.table(repo.tableName).submitTransaction([repo.capacityAction(defaultCapacity(app, organization), undefined)]);
  } catch (error) {
    if (restErrorStatus(error) !== 409) throw error;
  }
}

/** The stored record, or (for an organization created before capacity records existed) the defaults. */
async function readCapacity(app: AppContext, organization: Pick<Organization, 'id' | 'name'>) {
  const stored = await repository(app).getCapacity(organization.id);
  return stored ?? { value: defaultCapacity(app, organization), etag: undefined };
}

export async function getCapacity(app: AppContext, organization: Pick<Organization, 'id' | 'name'>): Promise<PipelineCapacity> {
  return (await readCapacity(app, organization)).value;
}

// ---- who may request ----------------------------------------------------------------------------------

const administersProject = (access: OrganizationAccess, projectId: string) =>
  access.membership.projects.some((project) => project.id === projectId && project.role === 'projectAdministrator');

/**
 * Project Collection Administrators, and administrators of a public project of the organization, may
 * request a grant and read the organization's requests.
 */
export async function assertMayManageGrants(app: AppContext, access: OrganizationAccess): Promise<void> {
  if (access.isAdministrator) return;
  const administered = access.membership.projects.filter((project) => project.role === 'projectAdministrator');
  for (const entry of administered) {
    const project = await app.directory.getProject(access.organization.id, entry.id);
    if (project?.visibility === 'public') return;
  }
  throw forbidden('accessDenied', 'Only Project Collection Administrators and administrators of a public project can manage free pipeline grant requests.');
}

async function resolvePublicProjects(app: AppContext, access: OrganizationAccess, names: readonly string[]): Promise<Project[]> {
  const projects: Project[] = [];
  for (const name of names) {
    const organizationId = access.organization.id;
    const project = isGuid(name)
      ? await app.directory.getProject(organizationId, name)
      : /[/\\#?\u0000-\u001f]/.test(name)
        ? undefined
        : await app.directory.getProjectByName(organizationId, name);
    const visible = project && (!access.isProjectScoped || access.membership.projects.some((entry) => entry.id === project.id));
    if (!project || !visible) throw badRequest('projectNotFound', `The project '${name}' does not exist in this organization.`);
    if (project.visibility !== 'public') {
      throw badRequest('projectNotPublic', `The project '${project.name}' is private; free grants are for public projects only.`);
    }
    if (!access.isAdministrator && !administersProject(access, project.id)) {
      throw forbidden('accessDenied', `Only a Project Collection Administrator or an administrator of '${project.name}' can request a grant for it.`);
    }
    projects.push(project);
  }
  if (new Set(projects.map((project) => project.id)).size !== projects.length) {
    throw badRequest('invalidProjects', 'A project is listed more than once.');
  }
  return projects;
}

// ---- submission ---------------------------------------------------------------------------------------

export async function submitGrantRequest(
  { app, organization: access, caller, audit: context }: OrganizationScope,
  body: CreateGrantRequestBody,
): Promise<GrantRequest> {
  await assertMayManageGrants(app, access);
  const projects = await resolvePublicProjects(app, access, body.projects);
  const repo = repository(app);
  const organization = access.organization;

  const capacity = await readCapacity(app, organization);
  if (capacity.value.grant.status === 'approved') {
    throw conflict('grantAlreadyActive', `The organization '${organization.name}' already has an approved free grant.`);
  }
  const open = await repo.getOpenRequestId(organization.id);
  if (open) throw openRequestExists(organization.name, open);

  takeCreationBudget(app, 'grantRequests', caller);
  const now = app.clock.now().toISOString();
  const request: GrantRequest = {
    id: randomUUID(),
    organizationId: organization.id,
    organizationName: organization.name,
    status: 'pending',
    requesterName: body.requesterName,
    requesterEmail: body.requesterEmail,
    projects: projects.map((project) => ({ id: project.id, name: project.name })),
    repositories: body.repositories,
    description: body.description,
    submittedBy: { kind: subjectKindOf(caller), id: caller.id, displayName: caller.displayName },
    submittedAt: now,
  };
  const nextCapacity: PipelineCapacity = {
    ...capacity.value,
    organizationName: organization.name,
    grant: { ...capacity.value.grant, status: 'pending', requestId: request.id, changedAt: now, comment: undefined },
    updatedAt: now,
  };
  const actions = [...repo.newRequestActions(request, keyDigest(request.requesterEmail)), repo.capacityAction(nextCapacity, capacity.etag)];
  const submitted = event(app, context, request, GRANT_ACTIONS.requested, {
    RequesterName: request.requesterName,
    RequesterEmail: request.requesterEmail,
    Projects: request.projects.map((project) => project.name),
    Repositories: request.repositories.map((link) => link.url),
    Status: request.status,
  });
  try {
    await commit(app, actions, [submitted]);
  } catch (error) {
    // The open-request marker already exists: another request was submitted at the same moment.
    if (restErrorStatus(error) === 409) throw openRequestExists(organization.name, (await repo.getOpenRequestId(organization.id)) ?? '');
    throw error;
  }
  await notifyRequester(app, submittedMessage(request), context.traceparent);
  return request;
}

function openRequestExists(organizationName: string, requestId: string): AppError {
  return conflict(
    'openRequestExists',
    `The organization '${organizationName}' already has an open free grant request; wait for its decision.`,
    requestId ? { requestId } : undefined,
  );
}

export async function listGrantRequests(app: AppContext, access: OrganizationAccess): Promise<GrantRequest[]> {
  await assertMayManageGrants(app, access);
  return repository(app).listRequests(access.organization.id);
}

export async function getGrantRequest(app: AppContext, access: OrganizationAccess, requestId: string): Promise<GrantRequest> {
  await assertMayManageGrants(app, access);
  const found = isGuid(requestId) ? await repository(app).getRequest(access.organization.id, requestId.toLowerCase()) : undefined;
  if (!found) throw requestNotFound(requestId);
  return found.value;
}

const requestNotFound = (requestId: string) => notFound('grantRequestNotFound', `The free grant request '${requestId.slice(0, 64)}' does not exist.`);

// ---- decisions ------------------------------------------------------------------------------------------

const ACTION_BY_OUTCOME: Record<ReviewOutcome, GrantActionId> = {
  approved: GRANT_ACTIONS.approved,
  rejected: GRANT_ACTIONS.rejected,
  manualReview: GRANT_ACTIONS.manualReview,
};

/**
 * Commits a request's move out of `pending` (timer) or `manualReview` (operator) together with the
 * capacity record, the indexes and the audit event. The record is replaced only if its etag still
 * matches, so a request never gets two decisions; a lost race surfaces as 412/404 from storage.
 */
async function applyOutcome(app: AppContext, current: Versioned<GrantRequest>, next: GrantRequest, context: AuditContext): Promise<PipelineCapacity> {
  const repo = repository(app);
  const capacity = await readCapacity(app, { id: next.organizationId, name: next.organizationName });
  const now = app.clock.now().toISOString();
  const settings = app.config.pipelines;
  const nextCapacity: PipelineCapacity = {
    ...capacity.value,
    public:
      next.status === 'approved'
        ? { parallelJobs: settings.publicGrant.parallelJobs, maxMinutesPerJob: settings.publicGrant.maxMinutesPerJob }
        : capacity.value.public,
    grant: { ...capacity.value.grant, status: next.status, requestId: next.id, changedAt: now, comment: undefined },
    updatedAt: now,
  };
  const actions = [
    ...repo.transitionActions(current.value, next, current.etag),
    repo.capacityAction(nextCapacity, capacity.etag),
    ...(next.status === 'approved' ? repo.linkActions(next, keyDigest, false) : []),
  ];
  const reasons = (next.decision?.reasons ?? next.review?.reasons ?? []).map((reason) => ({
    Rule: reason.rule,
    Outcome: reason.outcome,
    Message: reason.message,
  }));
  const decided = event(app, context, next, ACTION_BY_OUTCOME[next.status as ReviewOutcome], {
    Status: next.status,
    DecidedBy: next.decision?.decidedBy.kind ?? 'system',
    Reasons: reasons,
    ...(next.decision?.comment ? { Comment: next.decision.comment } : {}),
    ...(next.status === 'approved' ? { PublicParallelJobs: nextCapacity.public.parallelJobs, MaxMinutesPerJob: nextCapacity.public.maxMinutesPerJob } : {}),
  });
  await commit(app, actions, [decided]);
  return nextCapacity;
}

const lostRace = (error: unknown) => {
  const status = restErrorStatus(error);
  return status === 412 || status === 404 || status === 409;
};

async function reviewFacts(app: AppContext, request: GrantRequest, capacity: PipelineCapacity): Promise<ReviewFacts> {
  const repo = repository(app);
  const settings = app.config.pipelines;
  const now = app.clock.now();
  const organization = await app.directory.getOrganizationById(request.organizationId);
  const since = new Date(now.getTime() - settings.requestWindowDays * DAY_MS).toISOString();
  const grantedElsewhere = [];
  for (const link of request.repositories) {
    for (const grant of await repo.grantsNaming(keyDigest(link.key))) {
      if (grant.organizationId === request.organizationId) continue;
      grantedElsewhere.push({ url: link.url, organizationName: grant.organizationName, revoked: grant.revoked });
    }
  }
  return {
    now,
    // An organization that no longer exists counts as brand new (manual review).
    organization: {
      id: request.organizationId,
      name: request.organizationName,
      createdAt: organization?.createdAt ?? now.toISOString(),
    },
    description: request.description,
    projectNames: request.projects.map((project) => project.name),
    repositories: request.repositories,
    repositoriesGrantedElsewhere: grantedElsewhere,
    requestsFromEmail: await repo.countRequestsFromEmail(keyDigest(request.requesterEmail), since),
    revokedAt: capacity.grant.lastRevokedAt,
  };
}

export interface ReviewRunResult {
  reviewed: number;
  approved: number;
  rejected: number;
  manualReview: number;
  skipped: number;
  failed: number;
}

/** Pending requests one review run looks at (oldest first) to choose its batch from. */
const REVIEW_SCAN_BATCHES = 20;

/**
 * The order a run reviews pending requests in: requesters take turns (each one's oldest request,
 * requesters in the order of their oldest; then each one's second, and so on), so that one requester's
 * flood of requests (one per throw-away organization) does not keep everyone else's waiting. There is
 * one open request per organization, so organizations take turns as well.
 */
export function fairReviewOrder<T extends { requesterId: string }>(entries: readonly T[], size: number): T[] {
  const byRequester = new Map<string, T[]>();
  for (const entry of entries) byRequester.set(entry.requesterId, [...(byRequester.get(entry.requesterId) ?? []), entry]);
  const chosen: T[] = [];
  for (let round = 0; chosen.length < size; round += 1) {
    let any = false;
    for (const queue of byRequester.values()) {
      const entry = queue[round];
      if (!entry) continue;
      any = true;
      chosen.push(entry);
      if (chosen.length >= size) break;
    }
    if (!any) break;
  }
  return chosen;
}

/**
 * The timer's work: reviews up to GRANT_REVIEW_BATCH_SIZE pending requests, chosen fairly among the
 * oldest (see fairReviewOrder). A request that fails is logged and left pending for the next run; one
 * decided in the meantime is skipped.
 */
export async function reviewPendingRequests(app: AppContext): Promise<ReviewRunResult> {
  const repo = repository(app);
  const result: ReviewRunResult = { reviewed: 0, approved: 0, rejected: 0, manualReview: 0, skipped: 0, failed: 0 };
  const context = systemAuditContext();
  const { reviewBatchSize } = app.config.pipelines;
  const entries = fairReviewOrder(await repo.listQueue('pending', reviewBatchSize * REVIEW_SCAN_BATCHES), reviewBatchSize);
  for (const entry of entries) {
    try {
      const outcome = await reviewOne(app, entry.organizationId, entry.requestId, context);
      if (outcome) {
        result.reviewed++;
        result[outcome]++;
      } else {
        result.skipped++;
      }
    } catch (error) {
      result.failed++;
      app.log.error('grant request review failed', {
        requestId: entry.requestId,
        error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 500) : 'unknown',
      });
    }
  }
  app.log.info('grant review finished', { ...result });
  return result;
}

async function reviewOne(app: AppContext, organizationId: string, requestId: string, context: AuditContext): Promise<ReviewOutcome | undefined> {
  const current = await repository(app).getRequest(organizationId, requestId);
  if (!current || current.value.status !== 'pending') return undefined;
  const request = current.value;
  const capacity = await getCapacity(app, { id: request.organizationId, name: request.organizationName });
  const review = reviewGrantRequest(await reviewFacts(app, request, capacity), app.config.pipelines);
  const now = app.clock.now().toISOString();
  const next: GrantRequest = {
    ...request,
    status: review.outcome,
    review: { outcome: review.outcome, reviewedAt: now, reasons: review.reasons },
    ...(review.outcome === 'manualReview' ? {} : { decision: { status: review.outcome, decidedAt: now, decidedBy: SYSTEM_DECIDER, reasons: review.reasons } }),
  };
  let nextCapacity: PipelineCapacity;
  try {
    nextCapacity = await applyOutcome(app, current, next, context);
  } catch (error) {
    if (lostRace(error)) return undefined;
    throw error;
  }
  await notifyRequester(app, reviewedMessage(next, nextCapacity), context.traceparent);
  return review.outcome;
}

/** An operator approves or rejects a request in manual review, with a comment. */
export async function decideGrantRequest(
  { app, caller: operator, audit: context }: CallerScope,
  requestId: string,
  body: { decision: 'approve' | 'reject'; comment: string },
): Promise<GrantRequest> {
  const repo = repository(app);
  const current = isGuid(requestId) ? await repo.findRequest(requestId.toLowerCase()) : undefined;
  if (!current) throw requestNotFound(requestId);
  assertDecidable(current.value.status);
  const status = body.decision === 'approve' ? 'approved' : 'rejected';
  const now = app.clock.now().toISOString();
  const next: GrantRequest = {
    ...current.value,
    status,
    decision: {
      status,
      decidedAt: now,
      decidedBy: { kind: 'operator', id: operator.id, displayName: operator.displayName },
      comment: body.comment,
      reasons: [{ rule: 'operator', outcome: status, message: `An operator ${status} the request: ${body.comment}` }],
    },
  };
  let capacity: PipelineCapacity;
  try {
    capacity = await applyOutcome(app, current, next, context);
  } catch (error) {
    if (!lostRace(error)) throw error;
    const latest = await repo.findRequest(current.value.id);
    assertDecidable(latest?.value.status ?? 'approved');
    throw new ConcurrentModificationError('The request was changed by another request; read it again and retry.');
  }
  await notifyRequester(app, reviewedMessage(next, capacity), context.traceparent);
  return next;
}

function assertDecidable(status: GrantRequestStatus): void {
  if (status === 'approved' || status === 'rejected') {
    throw conflict('requestAlreadyDecided', `The request was already ${status}; a request gets one decision.`);
  }
  if (status === 'pending') {
    throw conflict('requestNotInManualReview', 'The request has not been reviewed yet; operators decide requests in manual review.');
  }
}

/** Operators' view across organizations: open requests from the status index, decided ones by status. */
export async function listRequestsForOperators(
  app: AppContext,
  query: { status: GrantRequestStatus; organization?: string | undefined; $top: number },
): Promise<GrantRequest[]> {
  const repo = repository(app);
  let organizationId: string | undefined;
  if (query.organization) {
    const organization = organizationNameSchema.safeParse(query.organization).success
      ? await app.directory.getOrganizationByName(query.organization)
      : undefined;
    if (!organization) throw organizationNotFound(query.organization.slice(0, 64));
    organizationId = organization.id;
  }
  if (query.status === 'approved' || query.status === 'rejected') {
    const decided = await repo.listDecided(query.status, organizationId ? Number.MAX_SAFE_INTEGER : query.$top);
    return decided.filter((request) => !organizationId || request.organizationId === organizationId).slice(0, query.$top);
  }
  const entries = await repo.listQueue(query.status, organizationId ? Number.MAX_SAFE_INTEGER : query.$top);
  const requests: GrantRequest[] = [];
  for (const entry of entries) {
    if (organizationId && entry.organizationId !== organizationId) continue;
    const found = await repo.getRequest(entry.organizationId, entry.requestId);
    if (found && found.value.status === query.status) requests.push(found.value);
    if (requests.length >= query.$top) break;
  }
  return requests;
}

export async function getRequestForOperators(app: AppContext, requestId: string): Promise<GrantRequest> {
  const found = isGuid(requestId) ? await repository(app).findRequest(requestId.toLowerCase()) : undefined;
  if (!found) throw requestNotFound(requestId);
  return found.value;
}

// ---- revocation -----------------------------------------------------------------------------------------

/** An operator takes an organization's grant away: public projects drop to 0 free parallel jobs. */
export async function revokeGrant({ app, audit: context }: CallerScope, organizationName: string, comment: string): Promise<PipelineCapacity> {
  const organization = organizationNameSchema.safeParse(organizationName).success ? await app.directory.getOrganizationByName(organizationName) : undefined;
  if (!organization) throw organizationNotFound(organizationName.slice(0, 64));
  const repo = repository(app);
  const capacity = await readCapacity(app, organization);
  if (capacity.value.grant.status !== 'approved' || !capacity.value.grant.requestId) {
    throw conflict('noActiveGrant', `The organization '${organization.name}' has no approved free grant to revoke.`);
  }
  const request = await repo.getRequest(organization.id, capacity.value.grant.requestId);
  const now = app.clock.now().toISOString();
  const next: PipelineCapacity = {
    ...capacity.value,
    organizationName: organization.name,
    public: { ...capacity.value.public, parallelJobs: 0 },
    grant: { status: 'revoked', requestId: capacity.value.grant.requestId, changedAt: now, comment, lastRevokedAt: now },
    updatedAt: now,
  };
  const actions = [repo.capacityAction(next, capacity.etag), ...(request ? repo.linkActions(request.value, keyDigest, true) : [])];
  const subject = { id: capacity.value.grant.requestId, organizationId: organization.id, organizationName: organization.name };
  const revoked = event(app, context, subject, GRANT_ACTIONS.revoked, {
    Comment: comment,
    PreviousPublicParallelJobs: capacity.value.public.parallelJobs,
  });
  await commit(app, actions, [revoked]);
  if (request) await notifyRequester(app, revokedMessage(request.value, next), context.traceparent);
  return next;
}
