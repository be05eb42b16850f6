import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { restErrorStatus } from '../http/errors.js';
import { optionalText } from '../storage/entities.js';
import type { IndexEntry, LifecycleCounters } from './kinds.js';

/** Expiry index tables (`PK = yyyyMMddHH`, `RK = pad13(ms) + '_' + id`): keys, purge rows, reads and deletes. */

export function parseEntry(row: Record<string, unknown>): IndexEntry | undefined {
  const partitionKey = optionalText(row.partitionKey);
  const rowKey = optionalText(row.rowKey);
  const match = /^(\d{13})_(.+)$/.exec(rowKey);
  const ownerId = typeof row.ownerId === 'string' ? row.ownerId : '';
  const id = typeof row.authorizationId === 'string' ? row.authorizationId : (match?.[2] ?? '');
  if (!match?.[1] || !ownerId || !id) return undefined;
  return { partitionKey, rowKey, dueMs: Number(match[1]), ownerId, id };
}

/** The first bucket after `after` (exclusive; '' = from the start) and up to `last` holding any row. */
export async function seekBucket(table: TableClient, after: string, last: string, counters: LifecycleCounters): Promise<string | undefined> {
  const filter = after ? odata`PartitionKey gt ${after} and PartitionKey le ${last}` : odata`PartitionKey le ${last}`;
  const pages = table.listEntities({ queryOptions: { filter, select: ['PartitionKey'] } }).byPage({ maxPageSize: 1 });
  for await (const page of pages) {
    const first = page[0];
    if (first) {
      counters.seekRows++;
      return String(first.partitionKey);
    }
  }
  return undefined;
}

/**
 * Deletes processed index rows of one partition: one transaction per 100 rows; when a transaction
 * fails because a concurrent run already removed a row, the rows are deleted one by one (404 ignored).
 */
export async function deleteIndexRows(table: TableClient, rows: readonly IndexEntry[], counters: LifecycleCounters): Promise<void> {
  for (let i = 0; i < rows.length; i += 100) {
    const chunk = rows.slice(i, i + 100);
    try {
      await table.submitTransaction(chunk.map((row): TransactionAction => ['delete', { partitionKey: row.partitionKey, rowKey: row.rowKey }]));
      counters.indexRowsDeleted += chunk.length;
    } catch {
      for (const row of chunk) {
        try {
          await table.deleteEntity(row.partitionKey, row.rowKey);
          counters.indexRowsDeleted++;
        } catch (error) {
          if (restErrorStatus(error) !== 404) throw error;
        }
      }
    }
  }
}
