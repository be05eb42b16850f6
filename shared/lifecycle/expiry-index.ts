import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { restErrorStatus } from '../http/errors.js';
import { optionalText } from '../storage/entities.js';
import type { IndexEntry, LifecycleCounters } from './kinds.js';

/** Expiry index tables (`PK = yyyyMMddHH`, `RK = pad13(ms) + '_' + id`): keys, purge rows, reads and deletes. */

export const pad = (ms: number) => String(Math.max(0, ms)).padStart(13, '0');
export const bucketOf = (ms: number) => new Date(ms).toISOString().slice(0, 13).replace(/[-T]/g, '');

export function bucketStart(bucket: string): number {
  return Date.UTC(Number(bucket.slice(0, 4)), Number(bucket.slice(4, 6)) - 1, Number(bucket.slice(6, 8)), Number(bucket.slice(8, 10)));
}

/** The purge target of an index row written by purgeEffect (shared/tokens/repository.ts). */
export function purgeTargetOf(row: Record<string, unknown>): IndexEntry['purge'] {
  const { purgeTable: table, purgePartitionKey: partitionKey, purgeRowKey: rowKey } = row;
  return typeof table === 'string' && typeof partitionKey === 'string' && typeof rowKey === 'string' ? { table, partitionKey, rowKey } : undefined;
}

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
