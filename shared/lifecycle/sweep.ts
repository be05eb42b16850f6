import { odata } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { advanceCursor, compareText, readCursor } from './cursors.js';
import { deleteIndexRows, parseEntry, seekBucket } from './expiry-index.js';
import { bucketOf, bucketStart, pad, purgeTargetOf } from '../storage/expiry-keys.js';
import { ignoreMissing } from '../storage/entities.js';
import { HOUR_MS } from '../time.js';
import type { ExpirableKind, ExpiringItem, FinaliseOutcome, IndexEntry, RunScope } from './kinds.js';

/**
 * The expiry sweep of one kind. It starts at the kind's cursor (the last bucket known to be fully
 * swept), seeks the next bucket holding any index row, range-reads that bucket's due rows
 * (`PartitionKey eq b and RowKey lt pad(now)`), finalises each item and only then deletes its index
 * row, and repeats up to bucket(now). It reads the due rows plus one row per bucket visited, never the
 * token table.
 *
 * Exactly once: finalising is an ETag-conditional update committed with the audit event, so of two
 * overlapping runs only one writes it; a run that dies between the update and the index delete leaves
 * the row, and the next run finds the item already marked (alreadyDone) and deletes the row. The
 * cursor advances only over buckets that were closed (ended more than SETTLE_MARGIN_MS ago) and whose
 * every row was finalised and deleted by this run.
 */

/** A bucket counts as closed this long after it ends (writes in flight at the hour boundary land). */
export const SETTLE_MARGIN_MS = 10 * 60_000;
const PAGE_SIZE = 100;
const PARALLEL = 8;

export interface SweepHooks {
  /** Called after an item is finalised and before its index row is deleted (tests stop a run here). */
  afterFinalise?(entry: IndexEntry, outcome: FinaliseOutcome): void | Promise<void>;
}

export interface SweepOptions {
  /** Entries left in this run's budget; the sweep reports how many it used. */
  readonly budget: { remaining: number };
  readonly hooks?: SweepHooks;
  /** Called for every item this run marked expired (the expiry notice). */
  readonly onExpired?: (item: ExpiringItem) => Promise<void>;
}

export const expiryCursorName = (kind: ExpirableKind) => `expiry_${kind.kind}`;

export async function sweepKind(app: AppContext, kind: ExpirableKind, now: Date, scope: RunScope, options: SweepOptions): Promise<void> {
  const { counters } = scope;
  const table = app.storage.table(kind.indexTable);
  const cursorName = expiryCursorName(kind);
  const cursor = await readCursor(app, cursorName, counters);
  const nowMs = now.getTime();
  const last = bucketOf(nowMs);
  const closedThrough = bucketOf(nowMs - SETTLE_MARGIN_MS - HOUR_MS);
  const maxText = (a: string, b: string) => (compareText(a, b) >= 0 ? a : b);
  const minText = (a: string, b: string) => (compareText(a, b) <= 0 ? a : b);

  let after = cursor.value;
  let safe = cursor.value;
  let blocked = false;
  let stopped = false;

  for (;;) {
    if (options.budget.remaining <= 0) {
      counters.budgetExhausted = true;
      stopped = true;
      break;
    }
    const bucket = await seekBucket(table, after, last, counters);
    if (!bucket) break;
    counters.bucketsVisited++;
    // Buckets between `after` and this one were empty when the seek ran.
    if (!blocked) safe = maxText(safe, minText(bucketOf(bucketStart(bucket) - HOUR_MS), closedThrough));
    const complete = await sweepBucket(app, kind, table, bucket, now, scope, options);
    if (!complete.finished) {
      stopped = true;
      blocked = true;
      break;
    }
    if (complete.clean && !blocked && compareText(bucket, closedThrough) <= 0) safe = maxText(safe, bucket);
    else blocked = true;
    after = bucket;
  }
  if (!stopped && !blocked) safe = maxText(safe, closedThrough);
  if (safe && compareText(safe, cursor.value) > 0) await advanceCursor(app, cursorName, safe, compareText, cursor);
}

/** Finalises every due row of one bucket. `finished`: not cut short by the budget; `clean`: no failures. */
async function sweepBucket(
  app: AppContext,
  kind: ExpirableKind,
  table: ReturnType<AppContext['storage']['table']>,
  bucket: string,
  now: Date,
  scope: RunScope,
  options: SweepOptions,
): Promise<{ finished: boolean; clean: boolean }> {
  const { counters } = scope;
  let clean = true;
  const filter = odata`PartitionKey eq ${bucket} and RowKey lt ${pad(now.getTime())}`;
  const pages = table.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: PAGE_SIZE });
  for await (const page of pages) {
    counters.indexRowsRead += page.length;
    const entries: IndexEntry[] = [];
    for (const row of page) {
      const entry = parseEntry(row);
      if (entry) entries.push(entry);
      else {
        // A purge entry deletes the row it names; any other row no kind wrote is never due for
        // anything. Either way it is removed so the bucket can close.
        const purge = purgeTargetOf(row);
        entries.push({ partitionKey: String(row.partitionKey), rowKey: String(row.rowKey), dueMs: 0, ownerId: '', id: '', ...(purge ? { purge } : {}) });
      }
    }
    const take = entries.slice(0, Math.max(0, options.budget.remaining));
    options.budget.remaining -= take.length;
    const done: IndexEntry[] = [];
    let next = 0;
    const worker = async () => {
      while (next < take.length) {
        const entry = take[next++] as IndexEntry;
        try {
          if (entry.purge) {
            await ignoreMissing(app.storage.table(entry.purge.table).deleteEntity(entry.purge.partitionKey, entry.purge.rowKey));
          } else if (entry.id) {
            const { outcome, item } = await kind.finalise(app, entry, now, scope);
            counters[outcome]++;
            // alreadyDone of a live item means an earlier run marked it and may have died before the
            // notice; notices are deduplicated, so asking again is safe.
            if ((outcome === 'expired' || outcome === 'alreadyDone') && item?.live && options.onExpired) await options.onExpired(item);
            await options.hooks?.afterFinalise?.(entry, outcome);
          }
          done.push(entry);
        } catch (error) {
          clean = false;
          counters.failed++;
          app.log.warn('lifecycle: an index entry could not be finalised', {
            kind: kind.kind,
            bucket,
            id: entry.id,
            error: error instanceof Error ? error.message.slice(0, 300) : 'unknown',
          });
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(PARALLEL, take.length) }, worker));
    await deleteIndexRows(table, done, counters);
    if (take.length < entries.length) {
      counters.budgetExhausted = true;
      return { finished: false, clean: false };
    }
  }
  return { finished: true, clean };
}
