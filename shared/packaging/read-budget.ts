import type { AppContext } from '../app-context.js';
import { AppError } from '../http/errors.js';

/**
 * What one package request may spend while resolving a package over a feed's upstream graph: each
 * feed is resolved at most once per request (a diamond in the graph is read once, not once per path),
 * the distinct feeds resolved and the calls to the public registry are capped
 * (`NPM_MAX_FEEDS_PER_REQUEST`, `NPM_MAX_UPSTREAM_CALLS_PER_REQUEST`; over a cap the request is a 508
 * `upstreamLimitExceeded`), and the work stops when the client has gone (`signal`).
 */
export class ReadBudget {
  private readonly memo = new Map<string, Promise<unknown>>();
  private readonly feeds = new Set<string>();
  private upstreamCalls = 0;

  constructor(
    private readonly limits: { readonly maxFeeds: number; readonly maxUpstreamCalls: number },
    private readonly signal?: AbortSignal,
  ) {}

  static of(app: AppContext, signal?: AbortSignal): ReadBudget {
    const { maxFeedsPerRequest, maxUpstreamCallsPerRequest } = app.config.packaging;
    return new ReadBudget({ maxFeeds: maxFeedsPerRequest, maxUpstreamCalls: maxUpstreamCallsPerRequest }, signal);
  }

  /** Throws once the client has gone. */
  checkClient(): void {
    if (this.signal?.aborted) throw new BudgetExceeded(499, 'clientClosedRequest', 'The client closed the request; its work was stopped.');
  }

  /** The feed's resolution, computed once per request under `key`; counts the feed against the cap. */
  feed<T>(feedId: string, key: string, resolve: () => Promise<T>): Promise<T> {
    this.checkClient();
    const known = this.memo.get(key);
    if (known) return known as Promise<T>;
    this.feeds.add(feedId);
    if (this.feeds.size > this.limits.maxFeeds) {
      throw new BudgetExceeded(
        508,
        'upstreamLimitExceeded',
        `Reading this package would resolve more than ${this.limits.maxFeeds} feeds through their upstream sources.`,
      );
    }
    const pending = resolve();
    this.memo.set(key, pending);
    return pending;
  }

  /** One call to the public registry, made once per request under `key` and counted against the cap. */
  upstream<T>(key: string, call: () => Promise<T>): Promise<T> {
    this.checkClient();
    const known = this.memo.get(key);
    if (known) return known as Promise<T>;
    this.upstreamCalls += 1;
    if (this.upstreamCalls > this.limits.maxUpstreamCalls) {
      throw new BudgetExceeded(
        508,
        'upstreamLimitExceeded',
        `Reading this package would make more than ${this.limits.maxUpstreamCalls} calls to upstream registries.`,
      );
    }
    const pending = call();
    this.memo.set(key, pending);
    return pending;
  }
}

/** A spent budget: never reported as one upstream's problem, always the request's answer. */
export class BudgetExceeded extends AppError {}
