import type { AppContext } from '../app-context.js';
import { memoForApp } from '../app-memo.js';

/**
 * Work started off a request's critical path (last-used writes, leak processing). Failures are
 * logged, never thrown at the caller. `settleBackgroundWork(app)` waits for everything started so far,
 * so tests observe the results without sleeping.
 */
const pendingOf = memoForApp(() => new Set<Promise<void>>());

export function runInBackground(app: AppContext, what: string, work: () => Promise<unknown>): void {
  const set = pendingOf(app);
  const tracked: Promise<void> = Promise.resolve()
    .then(work)
    .then(
      () => undefined,
      (error: unknown) => {
        app.log.error('background work failed', { what, error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 500) : 'unknown' });
      },
    )
    .finally(() => set.delete(tracked));
  set.add(tracked);
}

/** How many background tasks are running now. */
export const pendingBackgroundWork = (app: AppContext): number => pendingOf(app).size;

/** Resolves once every background task started before or during the wait has finished. */
export async function settleBackgroundWork(app: AppContext): Promise<void> {
  for (;;) {
    const set = pendingOf(app);
    if (set.size === 0) return;
    await Promise.all([...set]);
  }
}
