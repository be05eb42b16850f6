import { createHash } from 'node:crypto';
import type { IndexEntry } from '../lifecycle/kinds.js';
import type { TableName } from './names.js';

/** Keys of the expiry index tables (`PK = yyyyMMddHH`, `RK = pad13(ms) + '_' + id`), and the purge target a row names. */

export const pad = (ms: number) => String(Math.max(0, ms)).padStart(13, '0');
export const bucketOf = (ms: number) => new Date(ms).toISOString().slice(0, 13).replace(/[-T]/g, '');

/** The index row of an item (a token or key by its id) falling due at `dueAt`. */
export function expiryKeys(dueAt: string, id: string): { partitionKey: string; rowKey: string } {
  const ms = Date.parse(dueAt);
  return { partitionKey: bucketOf(ms), rowKey: `${pad(ms)}_${id}` };
}

export function bucketStart(bucket: string): number {
  return Date.UTC(Number(bucket.slice(0, 4)), Number(bucket.slice(4, 6)) - 1, Number(bucket.slice(6, 8)), Number(bucket.slice(8, 10)));
}

/** The purge target of an index row written by purgeEffect. */
export function purgeTargetOf(row: Record<string, unknown>): IndexEntry['purge'] {
  const { purgeTable: table, purgePartitionKey: partitionKey, purgeRowKey: rowKey } = row;
  return typeof table === 'string' && typeof partitionKey === 'string' && typeof rowKey === 'string' ? { table, partitionKey, rowKey } : undefined;
}

/**
 * An index row that deletes another row when it falls due: how rows that only live for a while (a
 * rotation's idempotent replay, an outbox row several events share) get a purge path on the lifecycle
 * timer. Written as an outbox index effect once the row it purges is proven committed; the sweep of any
 * expiry index table deletes the named row, then the index row (purgeTargetOf reads it back).
 */
export function purgeEffect(
  indexTable: TableName,
  dueAt: string,
  target: { table: TableName; partitionKey: string; rowKey: string },
): { op: 'upsert'; table: TableName; partitionKey: string; rowKey: string; columns: Record<string, string> } {
  const digest = createHash('sha256').update(`${target.table}|${target.partitionKey}|${target.rowKey}`).digest('hex').slice(0, 24);
  return {
    op: 'upsert',
    table: indexTable,
    ...expiryKeys(dueAt, `purge_${digest}`),
    columns: { purgeTable: target.table, purgePartitionKey: target.partitionKey, purgeRowKey: target.rowKey },
  };
}
