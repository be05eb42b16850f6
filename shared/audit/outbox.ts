import { randomUUID } from 'node:crypto';
import { odata, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { AppError, isStorageUnavailable, restErrorStatus } from '../http/errors.js';
import { assertSafeKey, ignoreMissing, readEntity } from '../storage/entities.js';
import { purgeEffect } from '../storage/expiry-keys.js';
import { QUEUES, TABLES, type TableName } from '../storage/names.js';
import { encodeQueueMessage } from '../storage/queue.js';
import { redactDeep } from '../secrets/redaction.js';
import type { ProducedEvent } from './context.js';
import { auditEventSchema, normalizeAuditEvent, type AuditEvent } from './events.js';
import { checkMessageSignature, messageSignatureSchema, signMessage } from './ingestion.js';
import { mapLimit } from './query.js';
import { MIN_RETENTION_DAYS } from './repository.js';
import { DAY_MS } from '../time.js';

/**
 * Transactional outbox for audit events, in two storage round trips per change:
 *
 * 1. Each event is sent to the audit queue first, with a `delivery` field that names its outbox row
 *    (`RowKey = outbox_<event id>` in the partition of the change) and, on the first event, the index
 *    writes the change implies elsewhere (`effects`, e.g. the PAT expiry index row). The message stays
 *    invisible for `AUDIT_DELIVERY_DELAY_SECONDS`, time for the commit to land.
 * 2. The change and its outbox rows are committed in one entity group transaction.
 *
 * The audit writer treats the outbox row as the proof that the change happened: it applies the
 * effects, stores the event and deletes the outbox row. A message whose outbox row has not appeared
 * is sent again later with a back-off, and dropped once it is older than `DELIVERY_ABANDON_AFTER_MS`:
 * its change never committed. So an event is stored if and only if its change committed, without a
 * pending index, a relay or cleanup writes on the request path. A queue outage fails the change
 * (nothing is committed), since the queue and the tables live in the same storage account.
 *
 * Every delivery is signed (`audit-outbox` key, ingestion.ts) over its event and the rest of the
 * delivery, and its row says so (`signed`): someone who can peek at and add to the queue cannot copy a
 * live delivery with other effects (writes into Gatehouse's tables) or another event and race the
 * genuine one to the writer. A delivery without a signature is taken only for a row committed before
 * deliveries were signed.
 *
 * An event's outbox row and its message carry the trace context of the change (`ProducedEvent`), so
 * the writer's span continues the request's trace.
 *
 * A change with more events than fit beside its actions in one transaction (at most 100 entities)
 * commits them all with ONE outbox row they share (`RowKey = outbox_<group id>`, column `shared`).
 * Each of its events still travels as its own message, whose delivery names the shared row, says
 * `shared: true` (its signature matters all the more: a long-lived row must not prove a message
 * anyone with queue access wrote). The writer stores each event as usual but leaves the
 * shared row (no delivery can tell whether it is the last one through); every delivery gives the row
 * the same purge entry instead, due SHARED_ROW_LIFETIME_MS after the commit, and the lifecycle sweep
 * deletes the row then. The writer trusts the row, never the message, about which kind it is: a row of
 * its own is deleted only by a delivery of its event, a shared row never by a delivery.
 *
 * Partitions that hold outbox rows must be read by RowKey range (never "the whole partition").
 */

export const OUTBOX_ROW_PREFIX = 'outbox_';
/** A message whose outbox row is still absent after this long belongs to a change that failed. */
export const DELIVERY_ABANDON_AFTER_MS = 10 * 60_000;
const MAX_DEFER_SECONDS = 60;
/**
 * How long a shared outbox row outlives its commit. Its messages normally reach the writer within
 * seconds (deferrals only happen before the commit lands, for at most DELIVERY_ABANDON_AFTER_MS);
 * one waits longer only while the writer keeps failing on it: host retries, then the poison queue,
 * from which an operator moves it back once the cause is fixed. A message that comes after its row
 * is purged is dropped as never committed, so the row stays a month (the shortest audit retention),
 * not minutes; a few small rows per large change are all it costs.
 */
export const SHARED_ROW_LIFETIME_MS = MIN_RETENTION_DAYS * DAY_MS;
/** Entities in one entity group transaction (a Table Storage limit). */
const MAX_TRANSACTION_ACTIONS = 100;
/** Messages of one change sent at once. */
const PARALLEL_SENDS = 32;
/** Index effects a change may carry (they travel on its first message). */
const MAX_EFFECTS = 20;

const MAX_EVENT_CHARS = 30_000;
/** Queue messages are at most 64 KiB, base64 included. */
const MAX_MESSAGE_BASE64_CHARS = 64 * 1024;

const KNOWN_TABLES = new Set<string>(Object.values(TABLES));
const tableName = z.string().refine((name) => KNOWN_TABLES.has(name), 'unknown table');
const key = z
  .string()
  .min(1)
  .max(512)
  .refine((value) => {
    try {
      assertSafeKey(value);
      return true;
    } catch {
      return false;
    }
  }, 'unsafe key');

const indexEffectSchema = z.discriminatedUnion('op', [
  z.object({
    op: z.literal('upsert'),
    table: tableName,
    partitionKey: key,
    rowKey: key,
    columns: z.record(z.string(), z.union([z.string(), z.number(), z.boolean()])),
  }),
  z.object({ op: z.literal('delete'), table: tableName, partitionKey: key, rowKey: key }),
]);
/** A write a change implies in another partition (an index row), applied once the change is proven. */
export type IndexEffect = z.infer<typeof indexEffectSchema>;

const deliverySchema = z
  .object({
    table: tableName,
    partitionKey: key,
    rowKey: key.refine((value) => value.startsWith(OUTBOX_ROW_PREFIX), 'not an outbox row'),
    sentAt: z.iso.datetime({ offset: true }),
    effects: z.array(indexEffectSchema).max(MAX_EFFECTS).optional(),
    /** The row is shared by all the events of one large change. */
    shared: z.literal(true).optional(),
    /**
     * Gatehouse's signature over the event and the rest of the delivery. Absent only from deliveries
     * of rows committed before deliveries were signed (their rows lack `signed`).
     */
    signature: messageSignatureSchema.optional(),
  })
  .refine((delivery) => delivery.shared !== true || delivery.signature !== undefined, 'a shared delivery is signed');
export type Delivery = z.infer<typeof deliverySchema>;

/**
 * Commits `actions` (all on one partition of `tableName`, at most 99) together with outbox rows for
 * `events` (one each, or one they share when they do not fit); `effects` reach their tables through
 * the audit writer once the commit is proven. Throws when the change fails; nothing is stored then,
 * and the events already queued are dropped by the writer.
 */
export async function commitWithEvents(
  app: AppContext,
  tableName: string,
  actions: readonly TransactionAction[],
  events: readonly ProducedEvent[],
  effects: readonly IndexEffect[] = [],
): Promise<void> {
  const partitionKey = actions[0]?.[1].partitionKey;
  if (partitionKey === undefined) throw new Error('commitWithEvents needs at least one action');
  if (actions.some((action) => action[1].partitionKey !== partitionKey)) {
    throw new Error('commitWithEvents: every action must be on the same partition');
  }
  if (actions.length >= MAX_TRANSACTION_ACTIONS) throw new Error('commitWithEvents: more than 99 actions leave no room for an outbox row');
  if (effects.length > 0 && events.length === 0) throw new Error('commitWithEvents: effects travel with an event');
  if (effects.length > MAX_EFFECTS) throw new Error(`commitWithEvents: more than ${MAX_EFFECTS} effects`);

  const sentAt = app.clock.now().toISOString();
  const sharedRowKey = actions.length + events.length > MAX_TRANSACTION_ACTIONS ? `${OUTBOX_ROW_PREFIX}${randomUUID()}` : undefined;
  const messages = events.map((event, i) => {
    const parsed = serializableEvent(event);
    const delivery = deliveryFor(app, parsed, sharedRowKey !== undefined, {
      table: tableName,
      partitionKey,
      rowKey: sharedRowKey ?? `${OUTBOX_ROW_PREFIX}${parsed.id}`,
      sentAt,
      ...(i === 0 && effects.length > 0 ? { effects: [...effects] } : {}),
    });
    const text = encodeQueueMessage({ ...parsed, delivery }, event.traceparent);
    if (text.length > MAX_MESSAGE_BASE64_CHARS) throw new Error(`audit event ${parsed.actionId} is too large for a queue message`);
    return { event: parsed, traceparent: event.traceparent, text };
  });

  const queue = app.storage.queue(QUEUES.audit);
  const visibilityTimeout = app.config.auditDeliveryDelaySeconds;
  try {
    await mapLimit(messages, PARALLEL_SENDS, ({ text }) =>
      queue.sendMessage(text, { messageTimeToLive: -1, ...(visibilityTimeout > 0 ? { visibilityTimeout } : {}) }),
    );
  } catch (error) {
    if (isStorageUnavailable(error)) throw error;
    app.log.warn('audit queue unavailable; change refused', {
      status: restErrorStatus(error) ?? null,
      reason: error instanceof Error ? error.name : 'unknown',
    });
    throw new AppError(503, 'auditUnavailable', 'The audit queue is unavailable, so nothing was changed; try again shortly.', {
      headers: { 'Retry-After': '5' },
    });
  }

  // The row carries the request's trace context too, so a delivery can be followed from either side.
  const outboxRows: TransactionAction[] = messages.map(({ event, traceparent }) => [
    'create',
    {
      partitionKey,
      rowKey: `${OUTBOX_ROW_PREFIX}${event.id}`,
      eventId: event.id,
      actionId: event.actionId,
      signed: true,
      ...(traceparent ? { traceparent } : {}),
    },
  ]);
  // A shared row carries its first event's: the events of one change share one trace context.
  const sharedTraceparent = messages[0]?.traceparent;
  const rows: TransactionAction[] = sharedRowKey
    ? [
        [
          'create',
          { partitionKey, rowKey: sharedRowKey, shared: true, eventCount: events.length, ...(sharedTraceparent ? { traceparent: sharedTraceparent } : {}) },
        ],
      ]
    : outboxRows;
  await app.storage.table(tableName).submitTransaction([...actions, ...rows]);
}

/** The delivery of an event, signed (and marked shared for a shared row). */
function deliveryFor(app: AppContext, event: AuditEvent, toSharedRow: boolean, delivery: Omit<Delivery, 'shared' | 'signature'>): Delivery {
  const unsigned = toSharedRow ? { ...delivery, shared: true as const } : delivery;
  return { ...unsigned, signature: signMessage(app, 'audit-outbox', signedContent(event, unsigned)) };
}

/**
 * What a delivery's signature covers: the event and the rest of the delivery. Both are plain JSON
 * data, and the canonical form leaves out absent fields as JSON does, so the writer's copy parsed
 * from the message signs the same.
 */
const signedContent = (event: AuditEvent, delivery: Omit<Delivery, 'signature'>): object => ({ ...event, delivery });

/**
 * The event as it may travel: token-shaped strings redacted (never a reason to drop the event), and
 * only the schema's fields (a produced event's `traceparent` goes on the message, not in the event).
 */
function serializableEvent(event: AuditEvent): AuditEvent {
  const parsed = auditEventSchema.parse(normalizeAuditEvent(redactDeep(event)));
  const json = JSON.stringify(parsed);
  if (json.length > MAX_EVENT_CHARS) throw new Error(`audit event ${parsed.actionId} is too large for the outbox`);
  return parsed;
}

/** The `delivery` field of an audit message: undefined for a message with none, an error text when malformed. */
export function deliveryOf(payload: unknown): { delivery?: Delivery; error?: string } {
  if (typeof payload !== 'object' || payload === null || !('delivery' in payload)) return {};
  const parsed = deliverySchema.safeParse(payload.delivery);
  if (parsed.success) return { delivery: parsed.data };
  const issue = parsed.error.issues[0];
  return { error: `delivery: ${issue ? `${issue.path.join('.') || 'value'}: ${issue.message}` : 'invalid'}` };
}

/**
 * What a delivery's outbox row proves about its event: `uncommitted` while the row is absent, `own`
 * when the row is the event's alone (deleted once the event is stored), `shared` when it is the row of
 * a large change (left to its purge). An error text for a delivery that can never prove its event: a
 * shared delivery without Gatehouse's signature, or one that disagrees with the row it names.
 */
export async function proofOf(
  app: AppContext,
  event: AuditEvent,
  delivery: Delivery,
): Promise<{ proof: 'uncommitted' | 'own' | 'shared' } | { error: string }> {
  const { signature, ...signed } = delivery;
  if (signature !== undefined) {
    const verdict = checkMessageSignature(app, 'audit-outbox', signature, signedContent(event, signed));
    if (verdict !== 'valid') return { error: `delivery: signature: ${verdict}` };
  }
  const row = await readEntity<{ shared?: boolean; signed?: boolean; eventId?: string }>(
    app.storage.table(delivery.table),
    delivery.partitionKey,
    delivery.rowKey,
  );
  if (!row) return { proof: 'uncommitted' };
  if (row.shared === true) return delivery.shared ? { proof: 'shared' } : { error: 'delivery: the outbox row is shared, and the delivery is not' };
  if (delivery.shared) return { error: 'delivery: the outbox row is not a shared one' };
  if (row.eventId?.toLowerCase() !== event.id.toLowerCase()) return { error: 'delivery: the outbox row belongs to another event' };
  if (row.signed === true && signature === undefined) return { error: 'delivery: unsigned, and its outbox row was committed for a signed one' };
  return { proof: 'own' };
}

/**
 * Applies a delivery's index writes, and a shared row's purge entry; each is idempotent, so a
 * redelivery applies them again harmlessly.
 */
export async function applyEffects(app: AppContext, delivery: Delivery): Promise<void> {
  // Any expiry index the lifecycle sweeps deletes a purge entry's row; rotations' purges use patexpiry too.
  const purge = delivery.shared
    ? [
        purgeEffect(TABLES.patExpiry, new Date(Date.parse(delivery.sentAt) + SHARED_ROW_LIFETIME_MS).toISOString(), {
          table: delivery.table as TableName,
          partitionKey: delivery.partitionKey,
          rowKey: delivery.rowKey,
        }),
      ]
    : [];
  await Promise.all(
    [...(delivery.effects ?? []), ...purge].map((effect) =>
      effect.op === 'upsert'
        ? app.storage.table(effect.table).upsertEntity({ partitionKey: effect.partitionKey, rowKey: effect.rowKey, ...effect.columns }, 'Replace')
        : ignoreMissing(app.storage.table(effect.table).deleteEntity(effect.partitionKey, effect.rowKey)),
    ),
  );
}

/** Removes an outbox row of its own once its event is stored. */
export async function completeDelivery(app: AppContext, delivery: Delivery): Promise<void> {
  await ignoreMissing(app.storage.table(delivery.table).deleteEntity(delivery.partitionKey, delivery.rowKey));
}

/**
 * A message whose outbox row is not there yet: sent again to be looked at later (back-off doubling
 * with its age, at most a minute), or 'abandoned' once older than DELIVERY_ABANDON_AFTER_MS. The
 * message sent again carries `traceparent`, the writer invocation's trace context.
 */
export async function deferDelivery(app: AppContext, payload: object, delivery: Delivery, traceparent?: string): Promise<'deferred' | 'abandoned'> {
  const ageMs = app.clock.now().getTime() - Date.parse(delivery.sentAt);
  if (ageMs >= DELIVERY_ABANDON_AFTER_MS) return 'abandoned';
  const visibilityTimeout = Math.min(MAX_DEFER_SECONDS, Math.max(1, Math.ceil(ageMs / 1000)));
  await app.storage.queue(QUEUES.audit).sendMessage(encodeQueueMessage(payload, traceparent), { messageTimeToLive: -1, visibilityTimeout });
  return 'deferred';
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
