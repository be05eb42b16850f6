import type { HttpRequest } from '@azure/functions';
import type { AppContext } from '../app-context.js';
import type { Caller } from '../auth/caller.js';
import { AppError } from './errors.js';
import { clientAddressOf } from './client-address.js';

/**
 * Token buckets per key (a caller, or a client IP for anonymous requests), refilled continuously
 * to `perMinute` with a burst of the same size. Buckets live in the instance's memory, so with N
 * instances a caller can get up to N times the budget; the bound keeps a flood of distinct keys
 * from growing memory (the least recently used buckets are dropped first).
 */
export class RateLimiter {
  private readonly buckets = new Map<string, { tokens: number; updatedAt: number }>();

  constructor(
    private readonly perMinute: number,
    private readonly maxKeys = 50_000,
  ) {}

  /** Takes one token; answers the seconds to wait when none is left. */
  take(key: string, nowMs: number): { allowed: true } | { allowed: false; retryAfterSeconds: number } {
    if (this.perMinute <= 0) return { allowed: true };
    const ratePerMs = this.perMinute / 60_000;
    const bucket = this.buckets.get(key) ?? { tokens: this.perMinute, updatedAt: nowMs };
    this.buckets.delete(key);
    bucket.tokens = Math.min(this.perMinute, bucket.tokens + Math.max(0, nowMs - bucket.updatedAt) * ratePerMs);
    bucket.updatedAt = nowMs;
    const allowed = bucket.tokens >= 1;
    if (allowed) bucket.tokens -= 1;
    this.buckets.set(key, bucket);
    if (this.buckets.size > this.maxKeys) {
      const oldest = this.buckets.keys().next().value;
      if (oldest !== undefined) this.buckets.delete(oldest);
    }
    return allowed ? { allowed: true } : { allowed: false, retryAfterSeconds: Math.max(1, Math.ceil((1 - bucket.tokens) / ratePerMs / 1000)) };
  }
}

const limiters = new WeakMap<AppContext, { writes: RateLimiter; anonymous: RateLimiter }>();

function limitersOf(app: AppContext) {
  let found = limiters.get(app);
  if (!found) {
    found = {
      writes: new RateLimiter(app.config.rateLimits.writesPerMinute),
      anonymous: new RateLimiter(app.config.rateLimits.anonymousPerMinute),
    };
    limiters.set(app, found);
  }
  return found;
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
  if (!verdict.allowed) {
    throw new AppError(429, 'rateLimited', 'Too many requests; slow down and retry after the time given in Retry-After.', {
      headers: { 'Retry-After': String(verdict.retryAfterSeconds) },
    });
  }
}
