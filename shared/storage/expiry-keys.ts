import type { IndexEntry } from '../lifecycle/kinds.js';

/** Keys of the expiry index tables (`PK = yyyyMMddHH`, `RK = pad13(ms) + '_' + id`), and the purge target a row names. */

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
