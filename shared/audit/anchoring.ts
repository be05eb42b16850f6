import { odata } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { readEntity } from '../storage/entities.js';
import { currentPepper } from '../secrets/hashing.js';
import { latestCheckpoint, writeCheckpoint } from './checkpoints.js';
import { HEAD_ROW_KEY, auditDaysTable, auditLogTable, dayKey, partitionKeyOf, type ChainHeadRow } from './repository.js';
import { verifyDay } from './verify.js';
import { DAY_MS } from '../time.js';

/**
 * The checkpoint sweep (on the lifecycle timer): the writer checkpoints every append itself; this
 * anchors what it could not (a blob storage failure, a process that stopped between the append and
 * its checkpoint) and re-signs heads under the current pepper after a rotation.
 *
 * It visits the days that can still be written to in the normal course (yesterday onwards, UTC).
 * A day whose head is already its newest valid checkpoint under the current pepper costs one head
 * read and one listing. Any other day is verified in full first (chain and every earlier checkpoint,
 * verify.ts) and checkpointed only when intact: a tampered day is never anchored, it is logged.
 */

/** Days before today the sweep still visits. */
const SWEEP_DAYS_BACK = 1;

export interface CheckpointSweepResult {
  daysVisited: number;
  daysVerified: number;
  checkpointsWritten: number;
  /** Days not checkpointed because their chain or checkpoints are broken. */
  brokenDays: number;
}

export async function checkpointAuditChains(app: AppContext): Promise<CheckpointSweepResult> {
  const result: CheckpointSweepResult = { daysVisited: 0, daysVerified: 0, checkpointsWritten: 0, brokenDays: 0 };
  if (!app.storage.blobConfigured) return result;
  const from = dayKey(app.clock.now().getTime() - SWEEP_DAYS_BACK * DAY_MS);
  const keyVersion = currentPepper(app.config.peppers).version;
  const days = auditDaysTable(app).listEntities({ queryOptions: { filter: odata`RowKey ge ${from}`, select: ['PartitionKey', 'RowKey'] } });
  for await (const row of days) {
    const organizationId = row.partitionKey;
    const day = row.rowKey;
    if (!organizationId || !day) continue;
    result.daysVisited++;
    const latest = await latestCheckpoint(app, organizationId, day);
    const head = await readEntity<ChainHeadRow>(auditLogTable(app), partitionKeyOf(organizationId, day), HEAD_ROW_KEY);
    if (!head) continue;
    if (latest && latest.sequence === Number(head.Seq) && latest.headHash === head.Hash && latest.keyVersion === keyVersion) continue;

    result.daysVerified++;
    const outcome = await verifyDay(app, organizationId, day);
    if (outcome.broken) {
      result.brokenDays++;
      const { reason, sequence, message } = outcome.broken;
      app.log.error('audit chain broken: day not checkpointed', { organizationId, day, reason, sequence, detail: message });
      continue;
    }
    if (!outcome.head || outcome.head.seq < 1) continue;
    const written = await writeCheckpoint(app, { organizationId, day, sequence: outcome.head.seq, headHash: outcome.head.hash });
    if (written === 'written') result.checkpointsWritten++;
  }
  app.log.info('audit checkpoint sweep', { ...result });
  return result;
}
