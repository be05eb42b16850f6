import { getAppContext } from '../shared/app-context.js';
import { runLifecycle } from '../shared/lifecycle/run.js';
import { timerFunction } from '../shared/runtime/declarations.js';
import { resealSealedValues } from '../shared/lifecycle/reseal.js';

/**
 * Expires PATs and SSH keys whose validTo has passed (exactly once per item), ends rotation grace
 * windows, queues expiry reminders and re-seals sealed values (webhook secrets, rotation replies)
 * under the current pepper, on LIFECYCLE_SCHEDULE (default every 5 minutes).
 */
export const lifecycle = timerFunction('lifecycle', '%LIFECYCLE_SCHEDULE%', async () => {
  const app = getAppContext();
  await runLifecycle(app);
  await resealSealedValues(app);
});
