import { memoForApp } from '../app-memo.js';

/**
 * Per-organization lanes for webhook deliveries, so one organization's slow or failing endpoint
 * delays only its own notices:
 * - a lane lets at most `concurrency` deliveries of one organization run at once in an instance; a
 *   delivery that finds its lane full is put back on the queue for later instead of holding a worker;
 * - a circuit breaker per endpoint (organization and URL) opens after `breakerFailures` consecutive
 *   failed deliveries and pauses the endpoint for `breakerOpenMs`; then one trial delivery decides
 *   whether it closes again or stays open for another period.
 * State lives in the instance's memory: with N instances an endpoint gets up to N lanes, and each
 * instance learns of a failing endpoint on its own.
 */
export interface LaneLimits {
  readonly concurrency: number;
  readonly breakerFailures: number;
  readonly breakerOpenMs: number;
}

export type LaneEntry = { entered: true; release(outcome: 'delivered' | 'failed'): void } | { entered: false; retryAfterMs: number };

interface Breaker {
  failures: number;
  openUntil: number;
}

const MAX_TRACKED = 10_000;

export class WebhookLanes {
  private readonly inFlight = new Map<string, number>();
  private readonly breakers = new Map<string, Breaker>();

  constructor(
    private readonly limits: LaneLimits,
    private readonly now: () => number = Date.now,
  ) {}

  enter(organizationId: string, endpoint: string): LaneEntry {
    const lane = organizationId.toLowerCase();
    const breakerKey = `${lane} ${endpoint}`;
    const now = this.now();
    const breaker = this.breakers.get(breakerKey);
    const running = this.inFlight.get(lane) ?? 0;
    if (breaker && breaker.openUntil > now) return { entered: false, retryAfterMs: breaker.openUntil - now };
    // Half-open: once a period has passed, a single trial delivery at a time.
    const limit = breaker && breaker.failures >= this.limits.breakerFailures ? 1 : this.limits.concurrency;
    if (running >= limit) return { entered: false, retryAfterMs: 1000 };
    this.inFlight.set(lane, running + 1);
    let released = false;
    return {
      entered: true,
      release: (outcome) => {
        if (released) return;
        released = true;
        const left = (this.inFlight.get(lane) ?? 1) - 1;
        if (left > 0) this.inFlight.set(lane, left);
        else this.inFlight.delete(lane);
        this.record(breakerKey, outcome);
      },
    };
  }

  private record(key: string, outcome: 'delivered' | 'failed'): void {
    if (outcome === 'delivered') {
      this.breakers.delete(key);
      return;
    }
    const breaker = this.breakers.get(key) ?? { failures: 0, openUntil: 0 };
    breaker.failures += 1;
    if (breaker.failures >= this.limits.breakerFailures) breaker.openUntil = this.now() + this.limits.breakerOpenMs;
    this.breakers.delete(key);
    this.breakers.set(key, breaker);
    if (this.breakers.size > MAX_TRACKED) {
      const oldest = this.breakers.keys().next().value;
      if (oldest !== undefined) this.breakers.delete(oldest);
    }
  }
}

export const webhookLanesOf = memoForApp((app) => {
  const { webhookLaneConcurrency, webhookBreakerFailures, webhookBreakerOpenSeconds } = app.config.lifecycle;
  return new WebhookLanes({ concurrency: webhookLaneConcurrency, breakerFailures: webhookBreakerFailures, breakerOpenMs: webhookBreakerOpenSeconds * 1000 });
});
