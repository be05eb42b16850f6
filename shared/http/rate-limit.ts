import type { HttpRequest } from '@azure/functions';
import type { AppContext } from '../app-context.js';
import { memoForApp } from '../app-memo.js';
import type { Caller } from '../auth/caller.js';
import { AppError } from './errors.js';
import { clientAddressOf } from './client-address.js';
import { DAY_MS, HOUR_MS } from '../time.js';

export type RateVerdict = { allowed: true } | { allowed: false; retryAfterSeconds: number };

/**
 * Token buckets per key (a caller, or a client IP for anonymous requests), refilled continuously
 * to `perMinute` with a burst of the same size. Buckets live in the instance's memory, so with N
 * instances a caller can get up to N times the budget; the bound keeps a flood of distinct keys
 * from growing memory (the least recently used buckets are dropped first).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedAt: number }>();

  /** `perMinute` tokens per `windowMs` (a minute unless given), with a burst of the same size. */
  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 50_000,
    private readonly windowMs = 60_000,
  ) {}

  /** Takes one token; answers the seconds to wait when none is left. */
  take(key: string, nowMs: number): RateVerdict {
    return this.settle(key, nowMs, true);
  }

  /** Whether a token is left, without taking it (for budgets charged only when something fails). */
  peek(key: string, nowMs: number): RateVerdict {
    return this.settle(key, nowMs, false);
  }

  private settle(key: string, nowMs: number, consume: boolean): RateVerdict {
    if (this.perMinute <= 0) return { allowed: true };
    const ratePerMs = this.perMinute / this.windowMs;
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, updatedAt: nowMs };
    this.buckets.delete(key);
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + Math.max(0, nowMs - bucket.updatedAt) * ratePerMs);
    bucket.updatedAt = nowMs;
    const allowed = bucket.tokens >= 1;
    if (allowed && consume) bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return allowed ? { allowed: true } : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000)) };
  }
}

type Limiters = Record<'writes' | 'anonymous' | 'authFailuresByAddress' | 'authFailuresByToken' | CreationKind | 'organizationsPerTenant', RateLimiter>;

/** What callers create that costs everyone (operators' queues, storage, review runs). */
export type CreationKind = 'organizations' | 'feeds' | 'grantRequests';

const limitersOf = memoForApp((app): Limiters => {
  const limits = app.config.rateLimits;
  return {
    writes: new RateLimiter(limits.writesPerMinute),
    anonymous: new RateLimiter(limits.anonymousPerMinute),
    authFailuresByAddress: new RateLimiter(limits.authFailuresPerMinutePerAddress),
    authFailuresByToken: new RateLimiter(limits.authFailuresPerMinutePerToken),
    organizations: new RateLimiter(limits.organizationsPerHour, 50_000, HOUR_MS),
    organizationsPerTenant: new RateLimiter(limits.organizationsPerTenantPerHour, 50_000, HOUR_MS),
    feeds: new RateLimiter(limits.feedsPerHour, 50_000, HOUR_MS),
    grantRequests: new RateLimiter(limits.grantRequestsPerDay, 50_000, DAY_MS),
  };
});

export function rateLimited(retryAfterSeconds: number): AppError {
  return new AppError(429, 'rateLimited', 'Too many requests; slow down and retry after the time given in Retry-After.', {
    headers: { 'Retry-After': String(retryAfterSeconds) },
  });
}

const WRITE_METHODS = new Set(['POST', 'PUT', 'PATCH', 'DELETE']);

/** The client address (see client-address.ts; the local runtime reports the socket as the front end does). */
export function clientAddress(request: HttpRequest, app: AppContext): string {
  return clientAddressOf(request, app.config) ?? 'unknown';
}

/** Anonymous requests count against the client IP; authenticated writes against the caller. */
export function enforceRateLimit(app: AppContext, request: HttpRequest, caller: Caller | undefined): void {
  const { writes, anonymous } = limitersOf(app);
  const now = app.clock.now().getTime();
  const verdict = caller
    ? WRITE_METHODS.has(request.method.toUpperCase())
      ? writes.take(`${caller.kind}:${caller.id}`, now)
      : { allowed: true as const }
    : anonymous.take(`ip:${clientAddress(request, app)}`, now);
  if (!verdict.allowed) throw rateLimited(verdict.retryAfterSeconds);
}

/**
 * Failed authentications are budgeted per client address and per token id (the authorization id a
 * PAT names, whether or not it exists). While either budget is spent, every attempt from that address
 * or with that token id is a 429 before any credential is looked at, good credentials included: so the
 * answer never tells a good secret from a bad one, nor an unknown token id from a wrong secret, and a
 * flood of forged PATs stops costing storage reads.
 */
export async function guardAuthentication<T>(app: AppContext, request: HttpRequest, tokenId: string | undefined, attempt: () => Promise<T>): Promise<T> {
  const { authFailuresByAddress, authFailuresByToken } = limitersOf(app);
  const now = app.clock.now().getTime();
  const keys: [RateLimiter, string][] = [[authFailuresByAddress, `ip:${clientAddress(request, app)}`]];
  if (tokenId) keys.push([authFailuresByToken, `token:${tokenId.toLowerCase()}`]);
  for (const [limiter, key] of keys) {
    const verdict = limiter.peek(key, now);
    if (!verdict.allowed) throw rateLimited(verdict.retryAfterSeconds);
  }
  try {
    return await attempt();
  } catch (error) {
    if (error instanceof AppError && error.status === 401) for (const [limiter, key] of keys) limiter.take(key, now);
    throw error;
  }
}

const tenantPolicyLimitersOf = memoForApp(() => new Map<number, RateLimiter>());

/** One hourly limiter per limit a tenant policy names (a handful of distinct values in practice). */
function tenantPolicyLimiter(app: AppContext, perHour: number): RateLimiter {
  const byLimit = tenantPolicyLimitersOf(app);
  let limiter = byLimit.get(perHour);
  if (!limiter) byLimit.set(perHour, (limiter = new RateLimiter(perHour, 50_000, HOUR_MS)));
  return limiter;
}

const CREATIONS: Record<CreationKind, string> = { organizations: 'organizations', feeds: 'feeds', grantRequests: 'free grant requests' };

/**
 * Creation budgets per identity (RATE_LIMIT_ORGANIZATIONS_PER_HOUR, RATE_LIMIT_FEEDS_PER_HOUR,
 * RATE_LIMIT_GRANT_REQUESTS_PER_DAY) and, for organizations, per tenant as well
 * (RATE_LIMIT_ORGANIZATIONS_PER_TENANT_PER_HOUR): a 429 `creationRateLimited` with Retry-After. Both
 * budgets are checked before either is spent, so a refused creation costs nothing.
 */
export function takeCreationBudget(
  app: AppContext,
  kind: CreationKind,
  identity: { kind: string; id: string; tenantId?: string | undefined },
  /** A tenant policy's own per-identity limit per hour (restrictOrganizationCreation.maxPerUserPerHour). */
  tenantLimitPerHour?: number | null,
): void {
  const all = limitersOf(app);
  const now = app.clock.now().getTime();
  const who = `${identity.kind}:${identity.id.toLowerCase()}`;
  const budgets: [RateLimiter, string][] = [[all[kind], who]];
  if (kind === 'organizations' && identity.tenantId) budgets.push([all.organizationsPerTenant, `tenant:${identity.tenantId.toLowerCase()}`]);
  if (tenantLimitPerHour) budgets.push([tenantPolicyLimiter(app, tenantLimitPerHour), `${kind}:${who}`]);
  for (const [limiter, key] of budgets) {
    const verdict = limiter.peek(key, now);
    if (!verdict.allowed) {
      throw new AppError(429, 'creationRateLimited', `Too many ${CREATIONS[kind]} created recently; retry after the time given in Retry-After.`, {
        headers: { 'Retry-After': String(verdict.retryAfterSeconds) },
      });
    }
  }
  for (const [limiter, key] of budgets) limiter.take(key, now);
}
