import { truncate } from '../text.js';
import type { AppContext } from '../app-context.js';
import { memoForApp } from '../app-memo.js';
import { organizationEvent, type AuditContext } from '../audit/context.js';
import type { RequestOrigin } from '../http/origin.js';
import { commitWithEvents } from '../audit/outbox.js';
import { ConcurrentModificationError } from '../http/errors.js';
import { runInBackground } from '../runtime/background.js';
import { conditionalWrite, retryLostRaces } from '../storage/conditional.js';
import { TABLES } from '../storage/names.js';
import { PatRepository, usageEntity, type PatAuthSnapshot, type PatUsage } from './repository.js';

/**
 * Last-used tracking: every successful PAT authentication records time, client IP (X-Forwarded-For)
 * and user agent on the usage row (`use_<authorizationId>` in the owner's `pats` partition), keeping
 * the five most recent distinct IPs. At most one write per token per PAT_LAST_USED_WRITE_SECONDS
 * (a minute by default; an in-process guard first, then the stored time), off the request's critical
 * path. A use from an IP that is not among the recent ones is written at once, with a
 * Token.PatUsedFromNewIpEvent in the same transaction.
 */
const writeIntervalMs = (app: AppContext) => app.config.patAuth.lastUsedWriteSeconds * 1000;
export const RECENT_IPS = 5;
const GUARD_MAX_ENTRIES = 50_000;

interface GuardEntry {
  writtenAt: number;
  ips: Set<string>;
}
const guardOf = memoForApp(() => new Map<string, GuardEntry>());

/** One use: where from, to which path, when. */
interface Use {
  readonly ip: string | null;
  readonly userAgent: string | null;
  readonly path: string;
  readonly now: number;
}

export interface UseContext {
  readonly organization: { readonly id: string; readonly name: string } | undefined;
  readonly activityId: string;
  readonly traceparent?: string;
}

/**
 * Records a use. A use from an address this process has not seen for the token is security-relevant
 * (it carries Token.PatUsedFromNewIpEvent): it is written before the request goes on, and the
 * returned promise is awaited by the caller. A routine use (a known address) only refreshes the
 * last-used time: that write runs in the background, and is what an instance that dies can lose: the
 * stored time then lags the last use it served by at most the write interval, plus the refresh that
 * was being written when it died (test/integration/scale-out.test.ts kills one of three instances).
 * `settleBackgroundWork(app)` awaits background writes.
 */
export function recordPatUse(app: AppContext, snapshot: PatAuthSnapshot, origin: RequestOrigin, context: UseContext): Promise<void> | undefined {
  const ip = origin.ip ?? null;
  const userAgent = origin.userAgent ?? null;
  const now = app.clock.now().getTime();
  const guard = guardOf(app);
  const key = guardKey(snapshot.authorizationId, context.organization?.id);
  const entry = guard.get(key);
  const knownIp = ip === null || (entry?.ips.has(ip) ?? false);
  if (entry && knownIp && now - entry.writtenAt < writeIntervalMs(app)) return undefined;
  // Claim the slot before the write starts, so concurrent uses in this process do not write twice.
  if (guard.size >= GUARD_MAX_ENTRIES && !entry) {
    const oldest = guard.keys().next();
    if (!oldest.done) guard.delete(oldest.value);
  }
  const ips = new Set(entry?.ips ?? []);
  if (ip) ips.add(ip);
  guard.set(key, { writtenAt: now, ips });
  // Uses of one token are written in the order they arrived (in this process): each write waits for the previous one.
  const writes = pendingWritesOf(app);
  const previous = writes.get(key) ?? Promise.resolve();
  const write = previous.then(() => writeUse(app, snapshot, { ip, userAgent, path: origin.path, now }, context));
  const tail = write.catch(() => undefined);
  writes.set(key, tail);
  void tail.then(() => {
    if (writes.get(key) === tail) writes.delete(key);
  });
  if (!knownIp) {
    return write.catch((error: unknown) => {
      app.log.error('a use from a new address could not be recorded', {
        authorizationId: snapshot.authorizationId,
        error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 300) : 'unknown',
      });
    });
  }
  runInBackground(app, 'pat-last-used', () => write);
  return undefined;
}

/** Each organization's view of a token's use is kept apart, so the guard is per token and organization. */
const guardKey = (authorizationId: string, organizationId: string | undefined) => `${authorizationId}|${organizationId ?? ''}`;

const pendingWritesOf = memoForApp(() => new Map<string, Promise<void>>());

/**
 * Records a use. Concurrent uses of one token (say, from two new IPs at once) race on the usage
 * row's ETag: the loser reads the row again and merges its use, so no IP and no event is lost.
 */
async function writeUse(app: AppContext, snapshot: PatAuthSnapshot, use: Use, context: UseContext): Promise<void> {
  try {
    await retryLostRaces(() => tryWriteUse(app, snapshot, use, context));
  } catch (error) {
    if (!(error instanceof ConcurrentModificationError)) throw error;
    app.log.warn('last use not recorded after repeated conflicts', { authorizationId: snapshot.authorizationId });
  }
}

/** One round of writeUse: read the usage row, merge this use, write it if the row is still as read. */
async function tryWriteUse(app: AppContext, snapshot: PatAuthSnapshot, use: Use, context: UseContext): Promise<void> {
  const repository = new PatRepository(app);
  const stored = await repository.getUsage(snapshot.ownerId, snapshot.authorizationId);
  const previousIps = stored?.recentIps ?? [];
  const newIp = use.ip !== null && !previousIps.includes(use.ip);
  const guard = guardOf(app);
  const organizationId = context.organization?.id;
  const key = guardKey(snapshot.authorizationId, organizationId);
  const seenHere = organizationId === undefined ? stored : stored?.byOrganization[organizationId];
  if (stored && seenHere && !newIp && use.now - Date.parse(seenHere.time) < writeIntervalMs(app)) {
    guard.set(key, { writtenAt: Date.parse(seenHere.time), ips: new Set(previousIps) });
    return;
  }
  const time = new Date(use.now).toISOString();
  const usage: PatUsage = {
    time,
    ip: use.ip,
    userAgent: use.userAgent,
    recentIps: use.ip ? [use.ip, ...previousIps.filter((ip) => ip !== use.ip)].slice(0, RECENT_IPS) : previousIps,
    byOrganization: {
      ...stored?.byOrganization,
      ...(organizationId ? { [organizationId]: { time, ip: use.ip, userAgent: use.userAgent } } : {}),
    },
  };
  guard.set(key, { writtenAt: use.now, ips: new Set(usage.recentIps) });
  const entity = usageEntity(snapshot.ownerId, snapshot.authorizationId, usage);
  const action = conditionalWrite(entity, stored?.etag);
  if (!newIp) {
    await app.storage.table(TABLES.pats).submitTransaction([action]);
    return;
  }
  const organization = context.organization ?? (await app.directory.getOrganizationById(snapshot.organizationId));
  if (!organization) {
    await app.storage.table(TABLES.pats).submitTransaction([action]);
    return;
  }
  const audit: AuditContext = {
    actor: {
      kind: 'user',
      id: snapshot.ownerId,
      upn: snapshot.owner.email || undefined,
      displayName: truncate(snapshot.owner.displayName || snapshot.ownerId, 256),
      authenticationMechanism: `PAT:${snapshot.authorizationId}`,
    },
    ipAddress: use.ip,
    userAgent: use.userAgent ?? undefined,
    activityId: context.activityId,
    correlationId: context.activityId,
    traceparent: context.traceparent,
  };
  const event = organizationEvent(app, audit, organization, {
    actionId: 'Token.PatUsedFromNewIpEvent',
    data: {
      AuthorizationId: snapshot.authorizationId,
      DisplayName: snapshot.displayName,
      OwnerId: snapshot.ownerId,
      OwnerName: snapshot.owner.displayName,
      IpAddress: use.ip,
      PreviousIps: previousIps,
      FirstUse: !stored,
      Route: truncate(use.path, 256),
      TokenType: 'PersonalAccessToken',
    },
  });
  await commitWithEvents(app, TABLES.pats, [action], [event]);
}
