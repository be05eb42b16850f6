import { odata, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { AppError, isStorageUnavailable, restErrorStatus } from '../http/errors.js';
import { assertSafeKey, ignoreMissing, readEntity } from '../storage/entities.js';
import { QUEUES, TABLES } from '../storage/names.js';
import { encodeQueueMessage } from '../storage/queue.js';
import { redactDeep } from '../secrets/redaction.js';
import type { ProducedEvent } from './context.js';
import { auditEventSchema, normalizeAuditEvent, type AuditEvent } from './events.js';

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
 * An event's outbox row and its message carry the trace context of the change (`ProducedEvent`), so
 * the writer's span continues the request's trace.
 *
 * Partitions that hold outbox rows must be read by RowKey range (never "the whole partition").
 */

export const OUTBOX_ROW_PREFIX = 'outbox_';
/** A message whose outbox row is still absent after this long belongs to a change that failed. */
export const DELIVERY_ABANDON_AFTER_MS = 10 * 60_000;
const MAX_DEFER_SECONDS = 60;

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

const deliverySchema = z.object({
  table: tableName,
  partitionKey: key,
  rowKey: key.refine((value) => value.startsWith(OUTBOX_ROW_PREFIX), 'not an outbox row'),
  sentAt: z.iso.datetime({ offset: true }),
  effects: z.array(indexEffectSchema).max(20).optional(),
});
export type Delivery = z.infer<typeof deliverySchema>;

/**
 * Commits `actions` (all on one partition of `tableName`) together with outbox rows for `events`;
 * `effects` reach their tables through the audit writer once the commit is proven. Throws when the
 * change fails; nothing is stored then, and the events already queued are dropped by the writer.
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
  if (actions.length + events.length > 100) throw new Error('commitWithEvents: more than 100 entities in one transaction');
  if (effects.length > 0 && events.length === 0) throw new Error('commitWithEvents: effects travel with an event');

  const sentAt = app.clock.now().toISOString();
  const messages = events.map((event, i) => {
    const parsed = serializableEvent(event);
    const delivery: Delivery = {
      table: tableName,
      partitionKey,
      rowKey: `${OUTBOX_ROW_PREFIX}${parsed.id}`,
      sentAt,
      ...(i === 0 && effects.length > 0 ? { effects: [...effects] } : {}),
    };
    const text = encodeQueueMessage({ ...parsed, delivery }, event.traceparent);
    if (text.length > MAX_MESSAGE_BASE64_CHARS) throw new Error(`audit event ${parsed.actionId} is too large for a queue message`);
    return { event: parsed, traceparent: event.traceparent, text };
  });

  const queue = app.storage.queue(QUEUES.audit);
  const visibilityTimeout = app.config.auditDeliveryDelaySeconds;
  try {
    await Promise.all(messages.map(({ text }) => queue.sendMessage(text, { messageTimeToLive: -1, ...(visibilityTimeout > 0 ? { visibilityTimeout } : {}) })));
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
    { partitionKey, rowKey: `${OUTBOX_ROW_PREFIX}${event.id}`, eventId: event.id, actionId: event.actionId, ...(traceparent ? { traceparent } : {}) },
  ]);
  await app.storage.table(tableName).submitTransaction([...actions, ...outboxRows]);
}

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

/** True when the change behind a delivery committed (its outbox row exists). */
export async function isCommitted(app: AppContext, delivery: Delivery): Promise<boolean> {
  return (await readEntity(app.storage.table(delivery.table), delivery.partitionKey, delivery.rowKey)) !== undefined;
}

/** Applies a delivery's index writes; each is idempotent, so a redelivery applies them again harmlessly. */
export async function applyEffects(app: AppContext, delivery: Delivery): Promise<void> {
  await Promise.all(
    (delivery.effects ?? []).map((effect) =>
      effect.op === 'upsert'
        ? app.storage.table(effect.table).upsertEntity({ partitionKey: effect.partitionKey, rowKey: effect.rowKey, ...effect.columns }, 'Replace')
        : ignoreMissing(app.storage.table(effect.table).deleteEntity(effect.partitionKey, effect.rowKey)),
    ),
  );
}

/** Removes the outbox row once its event is stored. */
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
