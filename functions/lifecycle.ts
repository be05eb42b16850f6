import { getAppContext } from '../shared/app-context.js';
import { runLifecycle } from '../shared/lifecycle/run.js';
import { timerFunction } from '../shared/runtime/declarations.js';

/**
 * Expires PATs and SSH keys whose validTo has passed (exactly once per item), ends rotation grace
 * windows and queues expiry reminders, on LIFECYCLE_SCHEDULE (default every 5 minutes).
 */
export const lifecycle = timerFunction('lifecycle', '%LIFECYCLE_SCHEDULE%', async () => {
  await runLifecycle(getAppContext());
});
