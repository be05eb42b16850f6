import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { restErrorStatus } from '../http/errors.js';

/** Point read that answers undefined for a missing entity instead of throwing. */
export async function readEntity<T extends object>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
): Promise<TableEntityResult<T> | undefined> {
  try {
    return await table.getEntity<T>(partitionKey, rowKey);
  } catch (error) {
    if (restErrorStatus(error) === 404) return undefined;
    throw error;
  }
}

/** Awaits a storage operation, taking a 404 (the entity is already gone) as done. */
export async function ignoreMissing(operation: Promise<unknown>): Promise<void> {
  try {
    await operation;
  } catch (error) {
    if (restErrorStatus(error) !== 404) throw error;
  }
}

/** Reads every entity of a query, following continuation tokens. */
export async function readAll<T extends object>(
  table: TableClient,
  filter: string,
): Promise<TableEntityResult<T>[]> {
  const rows: TableEntityResult<T>[] = [];
  for await (const row of table.listEntities<T>({ queryOptions: { filter } })) rows.push(row);
  return rows;
}

/** Table keys may not contain / \ # ? or control characters; everything we key on is checked here. */
export function assertSafeKey(value: string): string {
  if (value.length === 0 || value.length > 512 || /[/\\#?\u0000-\u001f\u007f-\u009f]/.test(value)) {
    throw new Error(`unsafe table key: ${JSON.stringify(value.slice(0, 40))}`);
  }
  return value;
}

export function parseJsonColumn<T>(value: unknown, fallback: T): T {
  if (typeof value !== 'string') return fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    return fallback;
  }
}
