import type { AppContext } from '../app-context.js';
import { activeRungs } from './rungs.js';
import { directoryCache } from './directory-cache.js';
import { entitiesRead, newCounters, type ExpirableKind, type LifecycleCounters, type RunScope } from './kinds.js';
import { expirableKinds } from './registry.js';
import { ladderCache, queueNoticeOnce, remindKind } from './reminders.js';
import { sweepKind, type SweepHooks } from './sweep.js';

export interface LifecycleOptions {
  /** Index entries this run may process (expiries and reminders); default LIFECYCLE_MAX_ITEMS_PER_RUN. */
  readonly maxItems?: number;
  /** The kinds to sweep (default: every registered kind). */
  readonly kinds?: readonly ExpirableKind[];
  readonly hooks?: SweepHooks;
  /** Skip the reminder ladder (the expiry benchmark measures the sweep alone). */
  readonly reminders?: boolean;
}

export interface LifecycleReport {
  readonly startedAt: string;
  readonly counters: LifecycleCounters;
  /** Every entity read from storage in this run (see LifecycleCounters). */
  readonly entitiesRead: number;
}

/**
 * One run of the lifecycle timer: the expiry sweep of every kind, then the reminder ladder. Time is
 * the app clock's, so tests move it instead of sleeping. A failure in one kind does not stop the
 * others; the run still fails at the end so the host records it.
 */
export async function runLifecycle(app: AppContext, options: LifecycleOptions = {}): Promise<LifecycleReport> {
  const now = app.clock.now();
  const counters = newCounters();
  const scope: RunScope = { counters, directory: directoryCache(app, counters) };
  const budget = { remaining: options.maxItems ?? app.config.lifecycle.maxItemsPerRun };
  const kinds = options.kinds ?? expirableKinds();
  const failures: unknown[] = [];

  for (const kind of kinds) {
    try {
      await sweepKind(app, kind, now, scope, {
        budget,
        ...(options.hooks ? { hooks: options.hooks } : {}),
        onExpired: async (item) => {
          await queueNoticeOnce(app, kind, item, 'expired', now, scope);
        },
      });
    } catch (error) {
      failures.push(error);
    }
  }

  if (options.reminders !== false) {
    try {
      counters.stateReads++;
      const rungs = await activeRungs(app);
      const ladderOf = ladderCache(app, scope);
      for (const kind of kinds) {
        for (const rung of rungs) {
          try {
            await remindKind(app, kind, rung, now, scope, budget, ladderOf);
          } catch (error) {
            failures.push(error);
          }
        }
      }
    } catch (error) {
      failures.push(error);
    }
  }

  const report: LifecycleReport = { startedAt: now.toISOString(), counters, entitiesRead: entitiesRead(counters) };
  const { budgetExhausted, ...numbers } = counters;
  app.log.info('lifecycle run', { ...numbers, budgetExhausted, entitiesRead: report.entitiesRead });
  if (counters.failed > 0 && failures.length === 0) failures.push(new Error(`${counters.failed} item(s) could not be finalised; the next run retries them`));
  if (failures.length > 0) {
    const first = failures[0];
    throw new Error(`lifecycle run had ${failures.length} failure(s): ${first instanceof Error ? first.message : String(first)}`);
  }
  return report;
}
