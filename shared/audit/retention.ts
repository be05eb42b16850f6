import { odata, type TransactionAction } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { restErrorStatus } from '../http/errors.js';
import { readEntity } from '../storage/entities.js';
import { auditDaysTable, auditLogTable, auditSettingsTable, firstRetainedDay, getAuditSettings, partitionKeyOf, payloadContainer } from './repository.js';

/**
 * Retention: whole day partitions are purged once the day lies entirely before the organization's
 * retention (events are kept between `retentionDays` and `retentionDays + 1` days). A day is purged
 * as a unit, so no chain is ever cut in the middle: rows in pages of up to 100 per transaction,
 * then its payload blobs, then its `auditdays` row.
 *
 * Organizations are visited in `auditdays` PartitionKey order; one request finds the next
 * organization and its oldest day, so organizations with nothing to purge cost one request. A run
 * deletes at most `retentionMaxPagesPerRun` pages (a transaction of ≤ 100 rows, or ≤ 100 blobs; the
 * lookups between them are not counted, so every run makes progress) and saves where it stopped
 * (`_retention/cursor`); the next run resumes there and wraps around once.
 */
const CURSOR_PARTITION = '_retention';
const CURSOR_ROW = 'cursor';

export interface RetentionResult {
  organizationsVisited: number;
  daysPurged: number;
  rowsDeleted: number;
  blobsDeleted: number;
  pagesUsed: number;
  complete: boolean;
}

export async function runAuditRetention(app: AppContext): Promise<RetentionResult> {
  const budget = app.config.audit.retentionMaxPagesPerRun;
  const result: RetentionResult = { organizationsVisited: 0, daysPurged: 0, rowsDeleted: 0, blobsDeleted: 0, pagesUsed: 0, complete: false };
  const settings = auditSettingsTable(app);
  const saved = await readEntity<{ After?: string }>(settings, CURSOR_PARTITION, CURSOR_ROW);
  const startedAfter = saved?.After ?? '';
  let after = startedAfter;
  let wrapped = startedAfter === '';
  const nowMs = app.clock.now().getTime();

  for (;;) {
    if (result.pagesUsed >= budget) break;
    const next = await firstIndexRowAfter(app, after);
    if (!next) {
      if (wrapped) {
        after = '';
        result.complete = true;
        break;
      }
      wrapped = true;
      after = '';
      continue;
    }
    const organizationId = next.partitionKey;
    if (wrapped && startedAfter !== '' && organizationId > startedAfter) {
      // Back where this run began: everything was visited once.
      after = startedAfter;
      result.complete = true;
      break;
    }
    result.organizationsVisited++;
    const { retentionDays } = await getAuditSettings(app, organizationId);
    const keepFrom = firstRetainedDay(nowMs, retentionDays);
    let finished = true;
    if (next.rowKey < keepFrom) finished = await purgeOrganization(app, organizationId, keepFrom, budget, result);
    if (!finished) break;
    after = organizationId;
  }

  await settings.upsertEntity({ partitionKey: CURSOR_PARTITION, rowKey: CURSOR_ROW, After: after, UpdatedAt: new Date(nowMs).toISOString() }, 'Replace');
  app.log.info('audit retention run', { ...result });
  return result;
}

async function firstIndexRowAfter(app: AppContext, after: string): Promise<{ partitionKey: string; rowKey: string } | undefined> {
  const pages = auditDaysTable(app)
    .listEntities({ queryOptions: { filter: odata`PartitionKey gt ${after}`, select: ['PartitionKey', 'RowKey'] } })
    .byPage({ maxPageSize: 1 });
  for await (const page of pages) {
    const [row] = page;
    if (row?.partitionKey && row.rowKey) return { partitionKey: row.partitionKey, rowKey: row.rowKey };
    if (!page.continuationToken) return undefined;
  }
  return undefined;
}

/** Purges the organization's expired days, oldest first; false when the page budget ran out. */
async function purgeOrganization(app: AppContext, organizationId: string, keepFrom: string, budget: number, result: RetentionResult): Promise<boolean> {
  const days: string[] = [];
  for await (const row of auditDaysTable(app).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${organizationId} and RowKey lt ${keepFrom}`, select: ['RowKey'] },
  })) {
    if (row.rowKey) days.push(row.rowKey);
  }
  for (const day of days.sort()) {
    if (!(await purgeDay(app, organizationId, day, budget, result))) return false;
  }
  return true;
}

async function purgeDay(app: AppContext, organizationId: string, day: string, budget: number, result: RetentionResult): Promise<boolean> {
  const table = auditLogTable(app);
  const partitionKey = partitionKeyOf(organizationId, day);
  for (;;) {
    if (result.pagesUsed >= budget) return false;
    const keys: string[] = [];
    const pages = table.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${partitionKey}`, select: ['RowKey'] } }).byPage({ maxPageSize: 100 });
    for await (const page of pages) {
      for (const row of page) if (row.rowKey !== undefined) keys.push(row.rowKey);
      break;
    }
    if (keys.length === 0) break;
    result.pagesUsed++;
    try {
      await table.submitTransaction(keys.map((rowKey): TransactionAction => ['delete', { partitionKey, rowKey }]));
    } catch (error) {
      // Another run purging the same day at the same moment (two instances, a lapsed timer lease)
      // deleted some of these rows first: read the page again.
      if (restErrorStatus(error) === 404) continue;
      throw error;
    }
    result.rowsDeleted += keys.length;
  }

  if (app.storage.blobConfigured) {
    const container = await payloadContainer(app);
    for await (const page of container.listBlobsFlat({ prefix: `${organizationId}/${day}/` }).byPage({ maxPageSize: 100 })) {
      if (page.segment.blobItems.length === 0) continue;
      if (result.pagesUsed >= budget) return false;
      result.pagesUsed++;
      for (const blob of page.segment.blobItems) {
        await container.getBlockBlobClient(blob.name).deleteIfExists();
        result.blobsDeleted++;
      }
    }
  }
  // The run that removes the day's index row is the one that purged it.
  const removed = await auditDaysTable(app)
    .deleteEntity(organizationId, day)
    .then(() => true)
    .catch((error: unknown) => {
      if (restErrorStatus(error) !== 404) throw error;
      return false;
    });
  if (removed) result.daysPurged++;
  return true;
}
