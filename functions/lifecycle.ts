import { getAppContext } from '../shared/app-context.js';
import { runLifecycle } from '../shared/lifecycle/run.js';
import { timerFunction } from '../shared/runtime/declarations.js';
import { resealSealedValues } from '../shared/lifecycle/reseal.js';
import { checkpointAuditChains } from '../shared/audit/anchoring.js';

/**
 * Expires PATs and SSH keys whose validTo has passed (exactly once per item), ends rotation grace
 * windows, queues expiry reminders, re-seals sealed values (webhook secrets, rotation replies) under
 * the current pepper and checkpoints audit chain heads the writer left unanchored, on
 * LIFECYCLE_SCHEDULE (default every 5 minutes). Each step runs even when one before it failed; the run
 * then fails with the first failure.
 */
export const lifecycle = timerFunction('lifecycle', '%LIFECYCLE_SCHEDULE%', async () => {
  const app = getAppContext();
  const steps = [() => runLifecycle(app), () => resealSealedValues(app), () => checkpointAuditChains(app)];
  const failures: unknown[] = [];
  for (const step of steps) await step().catch((error: unknown) => failures.push(error));
  if (failures.length > 0) throw failures[0];
});
