import type { AppContext } from '../app-context.js';
import { ConcurrentModificationError } from '../http/errors.js';
import { retryLostRaces } from '../storage/conditional.js';
import { ignoreMissing, readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import type { LifecycleCounters } from './kinds.js';

/** The lifecycle timer's run state: cursors in the `lifecycle` table (PK `cursor`). */

const CURSOR_PARTITION = 'cursor';

export interface StoredCursor {
  value: string;
  etag: string | undefined;
}

export async function readCursor(app: AppContext, name: string, counters: LifecycleCounters): Promise<StoredCursor> {
  counters.stateReads++;
  const row = await readEntity<{ value: string }>(app.storage.table(TABLES.lifecycle), CURSOR_PARTITION, name);
  return { value: row?.value ?? '', etag: row?.etag };
}

/**
 * Moves a cursor forward to `value` (never back): ETag-conditional, re-read on a lost race. Cursors
 * only save work; correctness never depends on them (entries are finalised idempotently).
 */
export async function advanceCursor(
  app: AppContext,
  name: string,
  value: string,
  compare: (a: string, b: string) => number,
  current?: StoredCursor,
): Promise<void> {
  const table = app.storage.table(TABLES.lifecycle);
  try {
    await retryLostRaces(async (attempt) => {
      const stored: StoredCursor =
        attempt === 1 && current
          ? current
          : await readEntity<{ value: string }>(table, CURSOR_PARTITION, name).then((row) => ({ value: row?.value ?? '', etag: row?.etag }));
      if (stored.value && compare(stored.value, value) >= 0) return;
      const entity = { partitionKey: CURSOR_PARTITION, rowKey: name, value };
      if (stored.etag) await table.updateEntity(entity, 'Replace', { etag: stored.etag });
      else await table.createEntity(entity);
    });
  } catch (error) {
    // Another run keeps moving it: that run's cursor serves as well.
    if (!(error instanceof ConcurrentModificationError)) throw error;
  }
}

export async function deleteCursor(app: AppContext, name: string): Promise<void> {
  await ignoreMissing(app.storage.table(TABLES.lifecycle).deleteEntity(CURSOR_PARTITION, name));
}

export const REMINDER_KINDS = ['pat', 'sshKey'] as const;
export const reminderCursorName = (kind: string, rung: number) => `remind_${kind}_${String(rung).padStart(3, '0')}`;

export const compareText = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
export const compareNumbers = (a: string, b: string) => Number(a) - Number(b);
