import type { AppContext } from './app-context.js';

/**
 * State that lives as long as one app context (a cache, a rate limiter, queues of work in flight):
 * `create` runs on first use for each context, and the value goes with the context. Tests that run
 * several contexts in one process (a cluster of instances) so get one value each.
 */
export function memoForApp<T>(create: (app: AppContext) => T): (app: AppContext) => T {
  const values = new WeakMap<AppContext, T>();
  return (app) => {
    let value = values.get(app);
    if (value === undefined) values.set(app, (value = create(app)));
    return value;
  };
}
