import { createHash } from 'node:crypto';
import type { TableClient, TableEntityResult } from '@azure/data-tables';
import { restErrorStatus } from '../http/errors.js';
import { pointRead } from './point-reads.js';

/**
 * Point read that answers undefined for a missing entity instead of throwing (see point-reads.ts:
 * the SDK's own credential, retry and proxy policies, without its generated-client layers).
 */
export const readEntity = pointRead;

/** Awaits a storage operation, taking a 404 (the entity is already gone) as done. */
export async function ignoreMissing(operation: Promise<unknown>): Promise<void> {
  try {
    await operation;
  } catch (error) {
    if (restErrorStatus(error) !== 404) throw error;
  }
}

/** Reads every entity of a query, following continuation tokens. */
export async function readAll<T extends object>(table: TableClient, filter: string): Promise<TableEntityResult<T>[]> {
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

/** A text column that rows written before it existed lack: '' when absent. */
// eslint-disable-next-line @typescript-eslint/no-base-to-string -- a table value is text, a number, a boolean or a date
export const optionalText = (value: unknown): string => (value === undefined || value === null ? '' : String(value));

export function parseJsonColumn<T>(value: unknown, fallback: T): T {
  if (typeof value !== 'string') return fallback;
  try {
    return JSON.parse(value) as T;
  } catch {
    return fallback;
  }
}

/**
 * A table key made from any text (an email, a user principal name such as a guest's `#EXT#` one):
 * `%` and the characters keys may not hold are percent-encoded, so ordinary values stay as they are;
 * a value too long for a key becomes its SHA-256.
 */
export function encodeKey(value: string): string {
  const encoded = value.replace(
    /[%/\\#?\u0000-\u001f\u007f-\u009f]|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g,
    (char) => `%${char.charCodeAt(0).toString(16).padStart(2, '0')}`,
  );
  return encoded.length <= 400 ? encoded : `sha256_${createHash('sha256').update(value, 'utf8').digest('hex')}`;
}
