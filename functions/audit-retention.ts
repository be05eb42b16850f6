import { getAppContext } from '../shared/app-context.js';
import { timerFunction } from '../shared/runtime/declarations.js';
import { runAuditRetention } from '../shared/audit/retention.js';

/** Purges audit day partitions past each organization's retention, a bounded number of pages per run. */
export const auditRetention = timerFunction('audit-retention', '%AUDIT_RETENTION_SCHEDULE%', async () => {
  await runAuditRetention(getAppContext());
});
