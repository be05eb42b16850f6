import { truncate } from '../text.js';
import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { memoForApp } from '../app-memo.js';
import { organizationEvent, systemAuditContext, type AuditContext } from '../audit/context.js';
import { commitWithEvents } from '../audit/outbox.js';
import { AppError } from '../http/errors.js';
import { RateLimiter } from '../http/rate-limit.js';
import { enqueueNotification, notificationMessage } from '../notifications/messages.js';
import { TABLES } from '../storage/names.js';
import { liveness } from './judge.js';
import { parseGatehouseToken } from '../secrets/format.js';
import { redactOptional } from '../secrets/redaction.js';
import { autoRevokesLeaksIn, policyLayers } from './policies.js';
import { PatRepository, patFactsOf, patPartitionOf, snapshotOf, type StoredPat } from './repository.js';
import { patEventData, revokeStoredPat, type AuditedChange } from './service.js';

/**
 * Leak reports (`POST /_apis/tokens/leaks`), unauthenticated by design, as GitHub's credential
 * revocation: anyone who finds a token can report it. Candidates that fail the checksum are dropped
 * without a storage read; each one that matches a live PAT gets a Token.PatPublicDiscoveryEvent and,
 * unless the owner's organization turned `leakedPatAutoRevocation` off for the owner, is revoked
 * (Token.PatSystemRevokeEvent, reason 'leaked'); the owner is notified either way. The reporter always
 * gets 202 with no per-token outcome, and the work runs after the answer, so timing tells nothing.
 */

export const MAX_LEAK_CANDIDATES = 100;
const MAX_CANDIDATE_LENGTH = 256;

export const leakReportBody = z
  .object({
    tokens: z
      .array(z.string().max(MAX_CANDIDATE_LENGTH, `candidates have at most ${MAX_CANDIDATE_LENGTH} characters`))
      .min(1, 'at least one candidate is required')
      .max(MAX_LEAK_CANDIDATES, `at most ${MAX_LEAK_CANDIDATES} candidates per report`)
      .describe('Candidate token strings (1–100).'),
    url: z.string().max(2048).optional().describe('Where the tokens were found (kept in the audit event).'),
    source: z.string().max(128).optional().describe('Who reports, e.g. a scanner name.'),
  })
  .strict();
export type LeakReport = z.infer<typeof leakReportBody>;

/** Maps schema failures of the `tokens` array to specific codes. */
export function leakValidationCode(_where: 'query' | 'body', issue: z.core.$ZodIssue): string | undefined {
  if (issue.path[0] !== 'tokens') return undefined;
  if (issue.code === 'too_big' && issue.path.length === 1) return 'tooManyCandidates';
  return 'invalidCandidate';
}

const limiterOf = memoForApp((app) => new RateLimiter(app.config.patAuth.leakReportsPerMinute));

/** Per client IP token bucket (`LEAK_REPORTS_PER_MINUTE`); 429 leakReportRateLimited with Retry-After. */
export function enforceLeakRateLimit(app: AppContext, ip: string | undefined): void {
  const verdict = limiterOf(app).take(`leak:${ip ?? 'unknown'}`, app.clock.now().getTime());
  if (!verdict.allowed) {
    throw new AppError(429, 'leakReportRateLimited', 'Too many leak reports from this address; retry after the time given in Retry-After.', {
      headers: { 'Retry-After': String(verdict.retryAfterSeconds) },
    });
  }
}

/**
 * Processes a report before it is answered, so a revocation can never be lost with an instance that
 * stops: each candidate that passes the checksum on its own (one that fails does not keep the others
 * from being revoked). A failure is thrown after every candidate was tried (the reporter gets a 5xx
 * and may report again; repeating a report is harmless). Whoever holds a token can already tell
 * whether it works, so answering after the work tells a reporter nothing new.
 */
export async function processLeakReport(app: AppContext, report: LeakReport, reporter: Reporter): Promise<number> {
  const candidates = [...new Set(report.tokens.map((token) => token.trim()).filter((token) => parseGatehouseToken(token) !== undefined))];
  if (candidates.length === 0) return 0;
  const correlationId = randomUUID();
  // What the reporter wrote is kept only redacted (it may quote the very tokens it reports).
  const told: LeakReport = { tokens: [], url: redactOptional(report.url), source: redactOptional(report.source) };
  const failures: unknown[] = [];
  for (const token of candidates) {
    await handleCandidate(app, token, { report: told, reporter, correlationId }).catch((error: unknown) => failures.push(error));
  }
  if (failures.length > 0) throw failures[0];
  return candidates.length;
}

/** Who reported, as the request shows: the address, the user agent and the request's trace context. */
interface Reporter {
  readonly ip: string | undefined;
  readonly userAgent: string | undefined;
  readonly traceparent?: string;
}

/** One leak report as each of its candidates is handled: what was told, by whom, under which correlation id. */
interface Leak {
  readonly report: LeakReport;
  readonly reporter: Reporter;
  readonly correlationId: string;
}

async function handleCandidate(app: AppContext, token: string, { report, reporter, correlationId }: Leak): Promise<void> {
  const repository = new PatRepository(app);
  const stored = await repository.findByToken(token);
  // Live tokens only (revoked, expired, past-grace and unknown ones need nothing). Whether it is good in
  // some organization does not matter: a leaked token that works anywhere is revoked everywhere.
  if (!stored || liveness(patFactsOf(snapshotOf(stored.record)), app.clock.now().getTime())) return;
  const { record } = stored;
  const organization = await app.directory.getOrganizationById(record.organizationId);
  if (!organization) return;
  const owner = await app.directory.getUser(record.ownerId);
  const ownerName = owner?.displayName ?? record.ownerId;
  const audit: AuditContext = {
    ...systemAuditContext(correlationId),
    ipAddress: reporter.ip,
    userAgent: reporter.userAgent,
    traceparent: reporter.traceparent,
  };
  const found = { Url: report.url ?? null, Source: report.source ?? null, ReportedAt: app.clock.now().toISOString() };
  const location = reportedLocation(report.url);
  const revoke = autoRevokesLeaksIn(await policyLayers(app, organization), record.ownerId);

  const change = { app, organization, audit };
  await recordDiscovery(change, stored, { ownerName, found, willRevoke: revoke });
  let revoked = false;
  if (revoke) {
    revoked = await revokeStoredPat(change, stored, { kind: 'system', ownerName }, { Reason: 'leaked', ...found });
  }
  await enqueueNotification(
    app,
    notificationMessage(app, {
      kind: 'token.leaked',
      organizationId: organization.id,
      organizationName: organization.name,
      recipient: {
        userId: record.ownerId,
        ...(owner?.email ? { email: owner.email } : {}),
        ...(owner ? { displayName: truncate(owner.displayName, 256) } : {}),
      },
      subject: revoked
        ? `Your PAT "${record.displayName.slice(0, 150)}" was found in public and revoked`
        : `Your PAT "${record.displayName.slice(0, 150)}" was found in public`,
      body: [
        `A personal access token of yours, "${record.displayName}" (authorizationId ${record.authorizationId}), was reported as publicly exposed${location ? ` at ${location} (as given by the reporter, unverified)` : ''}.`,
        revoked
          ? 'It has been revoked automatically. Create a new token and update whatever used the old one.'
          : `Automatic revocation is turned off for you in ${organization.name}; revoke or rotate the token now.`,
      ].join('\n\n'),
      data: { authorizationId: record.authorizationId, displayName: record.displayName, revoked, url: location ?? null },
    }),
    audit.traceparent,
  );
}

/**
 * The reporter's location as it may reach the owner: an http(s) URL without credentials, reduced to
 * origin and path (no query, no fragment, at most 300 characters), or nothing. Free text from an
 * anonymous reporter is not forwarded to inboxes and webhooks; the audit event keeps it (redacted).
 */
function reportedLocation(url: string | undefined): string | undefined {
  if (!url) return undefined;
  try {
    const parsed = new URL(url);
    if ((parsed.protocol !== 'https:' && parsed.protocol !== 'http:') || parsed.username || parsed.password) return undefined;
    const text = `${parsed.origin}${parsed.pathname}`;
    return text.length <= 300 ? text : undefined;
  } catch {
    return undefined;
  }
}

/** The discovery event, committed with a `leak_<authorizationId>` marker row in the owner's partition. */
async function recordDiscovery(
  { app, organization, audit }: AuditedChange,
  stored: StoredPat,
  { ownerName, found, willRevoke }: { ownerName: string; found: Record<string, unknown>; willRevoke: boolean },
): Promise<void> {
  const { record } = stored;
  const event = organizationEvent(app, audit, organization, {
    actionId: 'Token.PatPublicDiscoveryEvent',
    data: patEventData(record, ownerName, { ...found, AutoRevocation: willRevoke }),
  });
  await commitWithEvents(
    app,
    TABLES.pats,
    [
      [
        'upsert',
        { partitionKey: patPartitionOf(record.authorizationId), rowKey: `leak_${record.authorizationId}`, lastReportedAt: found.ReportedAt },
        'Replace',
      ],
    ],
    [event],
  );
}
