/**
 * The key layout of the expiry index tables (`patexpiry`, `sshexpiry`): `PK = yyyyMMddHH` of the due
 * time, `RK = pad13(ms) + '_' + id`. The areas whose items expire write the rows; shared/lifecycle
 * sweeps them.
 */

export const pad = (ms: number) => String(Math.max(0, ms)).padStart(13, '0');
export const bucketOf = (ms: number) => new Date(ms).toISOString().slice(0, 13).replace(/[-T]/g, '');

export function bucketStart(bucket: string): number {
  return Date.UTC(Number(bucket.slice(0, 4)), Number(bucket.slice(4, 6)) - 1, Number(bucket.slice(6, 8)), Number(bucket.slice(8, 10)));
}

/** The row an index row written by purgeEffect (shared/tokens/repository.ts) deletes once due. */
export interface PurgeTarget {
  readonly table: string;
  readonly partitionKey: string;
  readonly rowKey: string;
}

/** The purge target of an index row written by purgeEffect; undefined for any other index row. */
export function purgeTargetOf(row: Record<string, unknown>): PurgeTarget | undefined {
  const { purgeTable: table, purgePartitionKey: partitionKey, purgeRowKey: rowKey } = row;
  return typeof table === 'string' && typeof partitionKey === 'string' && typeof rowKey === 'string' ? { table, partitionKey, rowKey } : undefined;
}
