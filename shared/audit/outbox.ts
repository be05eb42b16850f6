import { odata, type TransactionAction } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { restErrorStatus } from '../http/errors.js';
import { ignoreMissing, readEntity } from '../storage/entities.js';
import { QUEUES, TABLES } from '../storage/names.js';
import { sendJson } from '../storage/queue.js';
import { findGatehouseTokens } from '../tokens/format.js';
import { auditEventSchema, type AuditEvent } from './events.js';

/**
 * Transactional outbox for audit events: a change and its events are committed together, then the
 * events are put on the audit queue.
 *
 * Table Storage transactions cover one partition of one table, so each event is stored as an outbox
 * row (`RowKey = outbox_<event id>`, column `event` = the JSON message) in the same partition as the
 * changed entity and written in the same `submitTransaction`. Before that, a pending-index row is
 * written to the `outbox` table (PK = `yyyyMMddHH` of the commit time, RK = zero-padded epoch ms +
 * `_` + event id, pointing at table / PartitionKey / RowKey of the outbox row), so the relay finds
 * pending events without scanning feature tables.
 *
 * After the commit the events are sent to the audit queue and both rows deleted. A queue failure
 * never fails the change: the `outbox-relay` timer (`relayOutbox`) later sends every outbox row whose
 * index row is older than a few seconds, and drops index rows whose outbox row never appeared (the
 * transaction failed). Sending twice is harmless (the audit writer is idempotent on the event id);
 * losing an event is impossible as long as the outbox row exists.
 *
 * Partitions that hold outbox rows must be read by RowKey range (never "the whole partition").
 */

export const OUTBOX_ROW_PREFIX = 'outbox_';
/** The relay leaves index rows younger than this alone (the writer is probably still sending). */
export const RELAY_MIN_AGE_MS = 5_000;
/** An index row whose outbox row is still absent after this long belongs to a failed transaction. */
export const RELAY_ABANDON_AFTER_MS = 120_000;

const MAX_EVENT_CHARS = 30_000;
const pad = (ms: number) => String(ms).padStart(13, '0');

export function outboxBucket(time: Date): string {
  return time.toISOString().slice(0, 13).replace(/[-T]/g, '');
}

type PendingIndexRow = {
  partitionKey: string;
  rowKey: string;
  table: string;
  targetPartitionKey: string;
  targetRowKey: string;
};

/**
 * Commits `actions` (all on one partition of `tableName`) together with outbox rows for `events`, then
 * delivers the events. Throws only when the change itself fails (nothing is committed then).
 */
export async function commitWithEvents(
  app: AppContext,
  tableName: string,
  actions: readonly TransactionAction[],
  events: readonly AuditEvent[],
): Promise<void> {
  const partitionKey = actions[0]?.[1].partitionKey;
  if (partitionKey === undefined) throw new Error('commitWithEvents needs at least one action');
  if (actions.some((action) => action[1].partitionKey !== partitionKey)) {
    throw new Error('commitWithEvents: every action must be on the same partition');
  }
  if (actions.length + events.length > 100) throw new Error('commitWithEvents: more than 100 entities in one transaction');

  const now = app.clock.now();
  const serialized = events.map((event) => serializeEvent(event));
  const index: PendingIndexRow[] = serialized.map(({ event }) => ({
    partitionKey: outboxBucket(now),
    rowKey: `${pad(now.getTime())}_${event.id}`,
    table: tableName,
    targetPartitionKey: partitionKey,
    targetRowKey: `${OUTBOX_ROW_PREFIX}${event.id}`,
  }));

  const outboxTable = app.storage.table(TABLES.outbox);
  if (index.length > 0) await outboxTable.submitTransaction(index.map((row) => ['create', row] as TransactionAction));

  const outboxRows: TransactionAction[] = serialized.map(({ event, json }) => [
    'create',
    { partitionKey, rowKey: `${OUTBOX_ROW_PREFIX}${event.id}`, eventId: event.id, actionId: event.actionId, event: json },
  ]);
  // On failure the index rows stay: a transaction whose reply was lost may still have committed
  // (or an SDK retry of a committed one answers 409), and the relay decides from the outbox row
  // itself, dropping index rows whose outbox row never appears.
  await app.storage.table(tableName).submitTransaction([...actions, ...outboxRows]);

  await Promise.all(
    serialized.map(({ event }, i) => deliver(app, event, tableName, partitionKey, index[i] as PendingIndexRow)),
  );
}

function serializeEvent(event: AuditEvent): { event: AuditEvent; json: string } {
  const parsed = auditEventSchema.parse(event);
  const json = JSON.stringify(parsed);
  if (json.length > MAX_EVENT_CHARS) throw new Error(`audit event ${parsed.actionId} is too large for the outbox`);
  if (findGatehouseTokens(json).length > 0) throw new Error(`audit event ${parsed.actionId} contains a token secret`);
  return { event: parsed, json };
}

/** Sends one event and removes its outbox and index rows; failures are left for the relay. */
async function deliver(app: AppContext, event: AuditEvent, table: string, partitionKey: string, index: PendingIndexRow): Promise<boolean> {
  try {
    await sendJson(app.storage.queue(QUEUES.audit), event);
  } catch (error) {
    app.log.warn('audit event left in the outbox', {
      eventId: event.id,
      actionId: event.actionId,
      status: restErrorStatus(error) ?? null,
      reason: error instanceof Error ? error.name : 'unknown',
    });
    return false;
  }
  await removeDelivered(app, table, partitionKey, `${OUTBOX_ROW_PREFIX}${event.id}`, index);
  return true;
}

async function removeDelivered(app: AppContext, table: string, partitionKey: string, rowKey: string, index: PendingIndexRow) {
  try {
    await ignoreMissing(app.storage.table(table).deleteEntity(partitionKey, rowKey));
    await ignoreMissing(app.storage.table(TABLES.outbox).deleteEntity(index.partitionKey, index.rowKey));
  } catch (error) {
    // The relay retries; the event may be sent again, which the writer tolerates.
    app.log.warn('outbox cleanup failed', { table, status: restErrorStatus(error) ?? null });
  }
}

export interface RelayResult {
  sent: number;
  dropped: number;
  pending: number;
}

/**
 * Sends every event still in an outbox whose index row is older than `RELAY_MIN_AGE_MS`; drops index
 * rows whose outbox row is gone (delivered, or the change never committed).
 */
export async function relayOutbox(app: AppContext): Promise<RelayResult> {
  const now = app.clock.now().getTime();
  const sendBefore = now - RELAY_MIN_AGE_MS;
  const outboxTable = app.storage.table(TABLES.outbox);
  const result: RelayResult = { sent: 0, dropped: 0, pending: 0 };
  const rows = outboxTable.listEntities<Omit<PendingIndexRow, 'partitionKey' | 'rowKey'>>({
    queryOptions: { filter: odata`PartitionKey le ${outboxBucket(new Date(sendBefore))}` },
  });
  for await (const row of rows) {
    const index = row as unknown as PendingIndexRow;
    const written = Number(index.rowKey.slice(0, 13));
    if (!(written <= sendBefore)) {
      result.pending++;
      continue;
    }
    const outboxRow = await readEntity<{ event: string }>(app.storage.table(index.table), index.targetPartitionKey, index.targetRowKey);
    if (!outboxRow) {
      if (written <= now - RELAY_ABANDON_AFTER_MS) {
        await ignoreMissing(outboxTable.deleteEntity(index.partitionKey, index.rowKey));
        result.dropped++;
      } else {
        result.pending++;
      }
      continue;
    }
    const event = auditEventSchema.parse(JSON.parse(outboxRow.event));
    if (await deliver(app, event, index.table, index.targetPartitionKey, index)) result.sent++;
    else result.pending++;
  }
  if (result.sent > 0 || result.dropped > 0) app.log.info('outbox relayed', { ...result });
  return result;
}

/** Outbox rows currently in a partition (for tests and diagnostics). */
export async function listOutboxRows(app: AppContext, table: string, partitionKey: string): Promise<Record<string, unknown>[]> {
  const rows: Record<string, unknown>[] = [];
  const iterator = app.storage.table(table).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${partitionKey} and RowKey ge ${OUTBOX_ROW_PREFIX} and RowKey lt ${`${OUTBOX_ROW_PREFIX}~`}` },
  });
  for await (const row of iterator) rows.push(row);
  return rows;
}
