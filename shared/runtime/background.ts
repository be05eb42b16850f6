import type { AppContext } from '../app-context.js';

/**
 * Work started off a request's critical path (last-used writes, leak processing). Failures are
 * logged, never thrown at the caller. `settleBackgroundWork(app)` waits for everything started so far,
 * so tests observe the results without sleeping.
 */
const pending = new WeakMap<AppContext, Set<Promise<void>>>();

export function runInBackground(app: AppContext, what: string, work: () => Promise<unknown>): void {
  let set = pending.get(app);
  if (!set) pending.set(app, (set = new Set()));
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
export const pendingBackgroundWork = (app: AppContext): number => pending.get(app)?.size ?? 0;

/** Resolves once every background task started before or during the wait has finished. */
export async function settleBackgroundWork(app: AppContext): Promise<void> {
  for (;;) {
    const set = pending.get(app);
    if (!set || set.size === 0) return;
    await Promise.all([...set]);
  }
}
