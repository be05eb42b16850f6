import { z } from 'zod';
import { parseRepositoryLink, type RepositoryLink } from './links.js';
import { redactSecrets } from '../secrets/redaction.js';

/** Records and wire shapes of free pipeline grants. */

export const GRANT_REQUEST_STATUSES = ['pending', 'manualReview', 'approved', 'rejected'] as const;
export type GrantRequestStatus = (typeof GRANT_REQUEST_STATUSES)[number];

export const REVIEW_OUTCOMES = ['approved', 'rejected', 'manualReview'] as const;
export type ReviewOutcome = (typeof REVIEW_OUTCOMES)[number];

export const GRANT_STATUSES = ['none', 'pending', 'manualReview', 'approved', 'rejected', 'revoked'] as const;
/** The organization's free grant as its capacity record shows it. */
export type GrantStatus = (typeof GRANT_STATUSES)[number];

export interface GrantReason {
  /** The rule that produced it (`allRulesPassed` for a clean review, `operator` for an operator's decision). */
  readonly rule: string;
  readonly outcome: ReviewOutcome;
  readonly message: string;
  /** Facts for operators only (for example which other organization named a repository). */
  readonly details?: Record<string, unknown>;
}

export interface GrantDecider {
  readonly kind: 'system' | 'operator';
  readonly id: string;
  readonly displayName: string;
}

export interface GrantRequest {
  readonly id: string;
  readonly organizationId: string;
  readonly organizationName: string;
  readonly status: GrantRequestStatus;
  readonly requesterName: string;
  readonly requesterEmail: string;
  readonly projects: readonly { id: string; name: string }[];
  readonly repositories: readonly RepositoryLink[];
  readonly description: string;
  readonly submittedBy: { kind: 'user' | 'servicePrincipal'; id: string; displayName: string };
  readonly submittedAt: string;
  /** The timer's review: its outcome and every rule that fired. */
  readonly review?: { outcome: ReviewOutcome; reviewedAt: string; reasons: GrantReason[] };
  /** The one final decision (approved or rejected), by the timer or an operator. */
  readonly decision?: {
    status: 'approved' | 'rejected';
    decidedAt: string;
    decidedBy: GrantDecider;
    comment?: string;
    reasons: GrantReason[];
  };
}

export interface PipelineCapacity {
  readonly organizationId: string;
  readonly organizationName: string;
  /** Free Microsoft-hosted parallel jobs of public projects: 0 until a grant is approved; no monthly cap. */
  readonly public: { parallelJobs: number; maxMinutesPerJob: number };
  readonly private: { parallelJobs: number; maxMinutesPerJob: number; monthlyMinutes: number };
  readonly grant: {
    status: GrantStatus;
    /** The request the status comes from. */
    requestId?: string;
    changedAt?: string;
    /** The operator's comment of a revocation. */
    comment?: string;
    /** Kept through later requests: a revoked organization's next request goes to manual review. */
    lastRevokedAt?: string;
  };
  readonly updatedAt: string;
}

// ---- request bodies -------------------------------------------------------------------------------

export const DESCRIPTION_MIN_LENGTH = 50;
export const DESCRIPTION_MAX_LENGTH = 4000;
export const MAX_REPOSITORY_LINKS = 10;

const CONTROL = /[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f]/;
const LINE_BREAK_OR_CONTROL = /[\u0000-\u001f\u007f]/;

const repositoryLink = z.string().transform((value, ctx): RepositoryLink => {
  const parsed = parseRepositoryLink(value.trim());
  if (!parsed.ok) {
    ctx.addIssue({ code: 'custom', message: parsed.problem });
    return z.NEVER;
  }
  return parsed.link;
});

export const createGrantRequestBody = z
  .object({
    requesterName: z
      .string()
      .trim()
      .min(1, 'the requester name is required')
      .max(128)
      .refine((value) => !LINE_BREAK_OR_CONTROL.test(value), 'may not contain line breaks or control characters'),
    // Trimmed before the format check, which a top-level z.email() cannot do without changing the published schema.
    // eslint-disable-next-line @typescript-eslint/no-deprecated
    requesterEmail: z.string().trim().max(254).email('must be a valid email address'),
    projects: z
      .array(z.string().trim().min(1).max(64))
      .min(1, 'name at least one public project')
      .max(20)
      .refine((names) => new Set(names.map((name) => name.toLowerCase())).size === names.length, 'a project is listed more than once'),
    repositories: z
      .array(repositoryLink)
      .min(1, 'give at least one repository link')
      .max(MAX_REPOSITORY_LINKS, `give at most ${MAX_REPOSITORY_LINKS} repository links`)
      .refine((links) => new Set(links.map((link) => link.key)).size === links.length, 'a repository is listed more than once'),
    description: z
      .string()
      .trim()
      .min(DESCRIPTION_MIN_LENGTH, `describe the project in at least ${DESCRIPTION_MIN_LENGTH} characters`)
      .max(DESCRIPTION_MAX_LENGTH, `the description has at most ${DESCRIPTION_MAX_LENGTH} characters`)
      .refine((value) => !CONTROL.test(value), 'may not contain control characters')
      .transform(redactSecrets),
  })
  .strict();
export type CreateGrantRequestBody = z.infer<typeof createGrantRequestBody>;

/** Specific error codes for the fields of a submission (the first problem names the code). */
export function submissionErrorCode(issue: { path: readonly PropertyKey[] }): string | undefined {
  switch (issue.path[0]) {
    case 'repositories':
      return 'invalidRepositoryLink';
    case 'description':
      return 'invalidDescription';
    case 'requesterEmail':
      return 'invalidRequesterEmail';
    case 'requesterName':
      return 'invalidRequesterName';
    case 'projects':
      return 'invalidProjects';
    default:
      return undefined;
  }
}

const comment = z
  .string()
  .trim()
  .min(1, 'a comment is required')
  .max(2000)
  .refine((value) => !CONTROL.test(value), 'may not contain control characters');

export const grantDecisionBody = z.object({ decision: z.enum(['approve', 'reject']), comment }).strict();
export const grantRevocationBody = z.object({ comment }).strict();

export const organizationRequestParams = z.object({ organization: z.string(), requestId: z.string() });
export const requestIdParam = z.object({ requestId: z.string() });

export const operatorListQuery = z.object({
  status: z.enum(GRANT_REQUEST_STATUSES).default('manualReview'),
  organization: z.string().min(1).max(64).optional(),
  $top: z.coerce.number().int().min(1).max(500).default(100),
});

// ---- views ----------------------------------------------------------------------------------------

export type Audience = 'organization' | 'operator';

function reasonView(reason: GrantReason, audience: Audience) {
  return {
    rule: reason.rule,
    outcome: reason.outcome,
    message: reason.message,
    ...(audience === 'operator' && reason.details ? { details: reason.details } : {}),
  };
}

export function grantRequestView(request: GrantRequest, audience: Audience) {
  const decision = request.decision;
  return {
    id: request.id,
    status: request.status,
    organization: { id: request.organizationId, name: request.organizationName },
    requester: { name: request.requesterName, email: request.requesterEmail },
    projects: request.projects.map((project) => ({ id: project.id, name: project.name })),
    repositories: request.repositories.map((link) => link.url),
    description: request.description,
    submittedBy: { id: request.submittedBy.id, displayName: request.submittedBy.displayName },
    submittedDate: request.submittedAt,
    review: request.review
      ? {
          outcome: request.review.outcome,
          reviewedDate: request.review.reviewedAt,
          reasons: request.review.reasons.map((reason) => reasonView(reason, audience)),
        }
      : null,
    decision: decision
      ? {
          status: decision.status,
          decidedDate: decision.decidedAt,
          // Operators are staff: organizations see that an operator decided, not who.
          decidedBy:
            audience === 'operator' || decision.decidedBy.kind === 'system'
              ? { kind: decision.decidedBy.kind, id: decision.decidedBy.id, displayName: decision.decidedBy.displayName }
              : { kind: decision.decidedBy.kind, displayName: 'Gatehouse operator' },
          comment: decision.comment ?? null,
          reasons: decision.reasons.map((reason) => reasonView(reason, audience)),
        }
      : null,
    url: `/${request.organizationName}/_apis/pipelines/freegrantrequests/${request.id}`,
  };
}

export function capacityView(capacity: PipelineCapacity) {
  return {
    organization: { id: capacity.organizationId, name: capacity.organizationName },
    publicProjects: {
      freeParallelJobs: capacity.public.parallelJobs,
      maxMinutesPerJob: capacity.public.maxMinutesPerJob,
      monthlyMinutes: null,
    },
    privateProjects: {
      freeParallelJobs: capacity.private.parallelJobs,
      maxMinutesPerJob: capacity.private.maxMinutesPerJob,
      monthlyMinutes: capacity.private.monthlyMinutes,
    },
    freeGrant: {
      status: capacity.grant.status,
      requestId: capacity.grant.requestId ?? null,
      changedDate: capacity.grant.changedAt ?? null,
      comment: capacity.grant.comment ?? null,
    },
    lastUpdateTime: capacity.updatedAt,
  };
}

export function projectCapacityView(capacity: PipelineCapacity, project: { id: string; name: string; visibility: 'public' | 'private' }) {
  const pool = project.visibility === 'public' ? capacityView(capacity).publicProjects : capacityView(capacity).privateProjects;
  return {
    project: { id: project.id, name: project.name, visibility: project.visibility },
    organization: { id: capacity.organizationId, name: capacity.organizationName },
    ...pool,
    // Private projects get their free jobs without a grant; public ones only through an approved grant.
    freeGrant: { status: project.visibility === 'public' ? capacity.grant.status : 'notRequired' },
  };
}

// ---- response schemas (OpenAPI) -------------------------------------------------------------------

const reasonSchema = z.object({
  rule: z.string(),
  outcome: z.enum(REVIEW_OUTCOMES),
  message: z.string(),
  details: z.record(z.string(), z.unknown()).optional(),
});

export const grantRequestSchema = z.object({
  id: z.uuid(),
  status: z.enum(GRANT_REQUEST_STATUSES),
  organization: z.object({ id: z.string(), name: z.string() }),
  requester: z.object({ name: z.string(), email: z.string() }),
  projects: z.array(z.object({ id: z.string(), name: z.string() })),
  repositories: z.array(z.string()),
  description: z.string(),
  submittedBy: z.object({ id: z.string(), displayName: z.string() }),
  submittedDate: z.string(),
  review: z.object({ outcome: z.enum(REVIEW_OUTCOMES), reviewedDate: z.string(), reasons: z.array(reasonSchema) }).nullable(),
  decision: z
    .object({
      status: z.enum(['approved', 'rejected']),
      decidedDate: z.string(),
      decidedBy: z.object({ kind: z.enum(['system', 'operator']), id: z.string().optional(), displayName: z.string() }),
      comment: z.string().nullable(),
      reasons: z.array(reasonSchema),
    })
    .nullable(),
  url: z.string(),
});

const pool = (monthly: z.ZodType) => z.object({ freeParallelJobs: z.number().int(), maxMinutesPerJob: z.number().int(), monthlyMinutes: monthly });

export const capacitySchema = z.object({
  organization: z.object({ id: z.string(), name: z.string() }),
  publicProjects: pool(z.null()),
  privateProjects: pool(z.number().int()),
  freeGrant: z.object({
    status: z.enum(GRANT_STATUSES),
    requestId: z.string().nullable(),
    changedDate: z.string().nullable(),
    comment: z.string().nullable(),
  }),
  lastUpdateTime: z.string(),
});

export const projectCapacitySchema = z.object({
  project: z.object({ id: z.string(), name: z.string(), visibility: z.enum(['public', 'private']) }),
  organization: z.object({ id: z.string(), name: z.string() }),
  freeParallelJobs: z.number().int(),
  maxMinutesPerJob: z.number().int(),
  monthlyMinutes: z.number().int().nullable(),
  freeGrant: z.object({ status: z.union([z.enum(GRANT_STATUSES), z.literal('notRequired')]) }),
});
