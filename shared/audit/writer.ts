import type { TransactionAction } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { restErrorStatus } from '../http/errors.js';
import { readEntity } from '../storage/entities.js';
import { QUEUES, poisonQueueName } from '../storage/names.js';
import { auditEventSchema, type AuditEvent } from './events.js';
import { applyEffects, completeDelivery, deferDelivery, deliveryOf, isCommitted } from './outbox.js';
import { MAX_DATA_DEPTH, canonicalJson, chainHash, genesisHash, sha256Hex } from './chain.js';
import {
  HEAD_ROW_KEY,
  auditDaysTable,
  auditLogTable,
  dayKey,
  dedupeRowKey,
  eventRowKey,
  firstRetainedDay,
  getAuditSettings,
  partitionKeyOf,
  payloadContainer,
  type AuditRow,
  type ChainHeadRow,
} from './repository.js';

/**
 * The audit writer: stores each event exactly once although the queue delivers at least once.
 *
 * One entity group transaction per event, in the event's day partition: create the event row
 * (`e_<inverted ticks>_<id>`), create the idempotency row (`d_<id>`) and create or replace the chain
 * head with the ETag read before. A redelivered event fails the transaction with 409 on the rows
 * that already exist: it is reported as a duplicate and acknowledged. A 412 / 409 on the head alone
 * means another writer appended first: the head is read again and the append retried.
 */

/** A message that can never be stored: it goes to the poison queue at once, without retries. */
export class InvalidAuditEvent extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InvalidAuditEvent';
  }
}

/** Data up to this many UTF-16 code units stays in the row; Table Storage allows 32K per string. */
export const INLINE_DATA_MAX_CHARS = 30_000;
/** Events dated this far ahead of the clock are refused (a producer's clock or a forged message). */
export const MAX_FUTURE_SKEW_MS = 24 * 3_600_000;
const MAX_APPEND_ATTEMPTS = 25;

export interface WriteOutcome {
  readonly status: 'written' | 'duplicate';
  readonly partitionKey: string;
  readonly rowKey: string;
  readonly seq: number | undefined;
}

/** Validates a queue payload (JSON already parsed by the host, or a string) against the shared schema. */
export function parseAuditEvent(payload: unknown): AuditEvent {
  let value = payload;
  if (typeof payload === 'string') {
    try {
      value = JSON.parse(payload) as unknown;
    } catch {
      throw new InvalidAuditEvent('the message is not JSON');
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new InvalidAuditEvent('the message is not a JSON object');
  const parsed = auditEventSchema.safeParse(value);
  if (!parsed.success) {
    const issues = parsed.error.issues.slice(0, 5).map((issue) => `${issue.path.join('.') || 'message'}: ${issue.message}`);
    throw new InvalidAuditEvent(`schema: ${issues.join('; ')}`.slice(0, 500));
  }
  try {
    canonicalJson(parsed.data.data);
  } catch {
    throw new InvalidAuditEvent(`data is nested deeper than ${MAX_DATA_DEPTH} levels`);
  }
  const ms = Date.parse(parsed.data.timestamp);
  if (!Number.isFinite(ms) || ms < Date.UTC(2000, 0, 1) || ms >= Date.UTC(9999, 0, 1)) {
    throw new InvalidAuditEvent('timestamp is out of range');
  }
  if (!wellFormed(parsed.data)) throw new InvalidAuditEvent('the event contains unpaired UTF-16 surrogates');
  return parsed.data;
}

/** True when every string and key is well-formed UTF-16 (storage and JSON consumers choke on lone surrogates). */
const LONE_SURROGATE = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/;
function wellFormed(value: unknown, depth = 0): boolean {
  if (typeof value === 'string') return !LONE_SURROGATE.test(value);
  if (typeof value !== 'object' || value === null || depth > MAX_DATA_DEPTH + 2) return true;
  if (Array.isArray(value)) return value.every((item) => wellFormed(item, depth + 1));
  return Object.entries(value).every(([key, item]) => !LONE_SURROGATE.test(key) && wellFormed(item, depth + 1));
}

const isUuid = (value: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(value);

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** Serialises the partition's appends inside this process; the head ETag covers other instances. */
const partitionLocks = new Map<string, Promise<unknown>>();
async function withPartitionLock<T>(partitionKey: string, work: () => Promise<T>): Promise<T> {
  const previous = partitionLocks.get(partitionKey) ?? Promise.resolve();
  const run = previous.catch(() => undefined).then(work);
  const settled = run.catch(() => undefined);
  partitionLocks.set(partitionKey, settled);
  try {
    return await run;
  } finally {
    if (partitionLocks.get(partitionKey) === settled) partitionLocks.delete(partitionKey);
  }
}

/**
 * The chain head of each partition as this process last wrote it, with its ETag, so an append skips
 * the head read. Another writer's append changes the ETag: the transaction fails with 412 and the
 * head is read again, exactly as before.
 */
const knownHeads = new WeakMap<AppContext, Map<string, ChainHeadRow & { etag: string }>>();
const KNOWN_HEADS_MAX = 10_000;

function knownHeadsOf(app: AppContext): Map<string, ChainHeadRow & { etag: string }> {
  let heads = knownHeads.get(app);
  if (!heads) knownHeads.set(app, (heads = new Map()));
  return heads;
}

/** `auditdays` rows this process has written (organization|day). */
const daysWritten = new WeakMap<AppContext, Set<string>>();

function daysWrittenOf(app: AppContext): Set<string> {
  let days = daysWritten.get(app);
  if (!days) daysWritten.set(app, (days = new Set()));
  return days;
}

function rememberHead(app: AppContext, head: ChainHeadRow, etag: string | undefined): void {
  const heads = knownHeadsOf(app);
  heads.delete(head.partitionKey);
  if (!etag) return;
  if (heads.size >= KNOWN_HEADS_MAX) {
    const oldest = heads.keys().next();
    if (!oldest.done) heads.delete(oldest.value);
  }
  heads.set(head.partitionKey, { ...head, etag });
}

export type MessageOutcome = WriteOutcome['status'] | 'deferred' | 'abandoned';

/**
 * Handles one audit queue message. A message from the outbox (with `delivery`) is stored only once
 * its change is proven committed: effects applied, event written, outbox row removed, in that order,
 * so a retry after a failure at any step repeats the rest. Throws InvalidAuditEvent for messages that
 * can never be stored.
 */
export async function handleAuditMessage(app: AppContext, payload: unknown): Promise<{ event: AuditEvent; outcome: MessageOutcome }> {
  const event = parseAuditEvent(payload);
  const value: unknown = typeof payload === 'string' ? JSON.parse(payload) : payload;
  const { delivery, error } = deliveryOf(value);
  if (error) throw new InvalidAuditEvent(error);
  if (!delivery) return { event, outcome: (await writeAuditEvent(app, event)).status };
  if (!(await isCommitted(app, delivery))) {
    if (await isAuditEventStored(app, event)) return { event, outcome: 'duplicate' };
    const outcome = await deferDelivery(app, value as object, delivery);
    if (outcome === 'abandoned') {
      app.log.warn('audit event dropped: its change never committed', { eventId: event.id, actionId: event.actionId, sentAt: delivery.sentAt });
    }
    return { event, outcome };
  }
  await applyEffects(app, delivery);
  const written = await writeAuditEvent(app, event);
  await completeDelivery(app, delivery);
  return { event, outcome: written.status };
}

/** True when the event is already in the audit log (its idempotency row exists). */
export async function isAuditEventStored(app: AppContext, event: AuditEvent): Promise<boolean> {
  const partitionKey = partitionKeyOf(event.organizationId.toLowerCase(), dayKey(Date.parse(event.timestamp)));
  return (await readEntity(auditLogTable(app), partitionKey, dedupeRowKey(event.id.toLowerCase()))) !== undefined;
}

/** Stores one validated event; idempotent on (event id, timestamp). Throws InvalidAuditEvent for events that can never be stored. */
export async function writeAuditEvent(app: AppContext, event: AuditEvent): Promise<WriteOutcome> {
  const ms = Date.parse(event.timestamp);
  const nowMs = app.clock.now().getTime();
  if (ms > nowMs + MAX_FUTURE_SKEW_MS) throw new InvalidAuditEvent('timestamp is more than a day in the future');
  const day = dayKey(ms);
  const { retentionDays } = await getAuditSettings(app, event.organizationId.toLowerCase());
  if (day < firstRetainedDay(nowMs, retentionDays)) {
    throw new InvalidAuditEvent(`the event is older than the organization's retention of ${retentionDays} days`);
  }

  const organizationId = event.organizationId.toLowerCase();
  const eventId = event.id.toLowerCase();
  const partitionKey = partitionKeyOf(organizationId, day);
  const rowKey = eventRowKey(ms, eventId);

  const dataJson = canonicalJson(event.data);
  const dataSha256 = sha256Hex(dataJson);
  let dataBlob: string | undefined;
  if (dataJson.length > INLINE_DATA_MAX_CHARS) {
    dataBlob = `${organizationId}/${day}/${eventId}-${dataSha256}.json`;
    const body = Buffer.from(dataJson, 'utf8');
    await payloadContainer(app).getBlockBlobClient(dataBlob).upload(body, body.length, {
      blobHTTPHeaders: { blobContentType: 'application/json' },
    });
  }

  // The day index first: a failed event write leaves at most an index row without events (harmless).
  // Once per organization and day per process: retention only removes days no event may be written to.
  const daysWritten = daysWrittenOf(app);
  const dayIndexKey = `${organizationId}|${day}`;
  if (!daysWritten.has(dayIndexKey)) {
    await auditDaysTable(app).upsertEntity({ partitionKey: organizationId, rowKey: day }, 'Replace');
    if (daysWritten.size >= KNOWN_HEADS_MAX) daysWritten.clear();
    daysWritten.add(dayIndexKey);
  }

  const actor = event.actor;
  const actorId = isUuid(actor.id) ? actor.id.toLowerCase() : actor.id;
  const base = withoutUndefined({
    partitionKey,
    rowKey,
    EventId: eventId,
    EventTime: new Date(ms).toISOString(),
    OrganizationId: organizationId,
    OrganizationName: event.organizationName,
    ProjectId: event.projectId?.toLowerCase(),
    ProjectName: event.projectName,
    ActionId: event.actionId,
    Area: event.area,
    Category: event.category,
    ActorKind: actor.kind,
    ActorId: actorId,
    ActorUpn: actor.upn,
    ActorUpnLower: actor.upn?.toLowerCase(),
    ActorDisplayName: actor.displayName,
    ActorClientId: actor.clientId,
    AuthenticationMechanism: actor.authenticationMechanism,
    IpAddress: event.ipAddress,
    UserAgent: event.userAgent,
    CorrelationId: event.correlationId.toLowerCase(),
    ActivityId: event.activityId.toLowerCase(),
    ScopeType: event.scopeType,
    ScopeId: event.scopeId.toLowerCase(),
    Data: dataBlob ? undefined : dataJson,
    DataBlob: dataBlob,
    DataSha256: dataSha256,
    DataLength: dataJson.length,
  });

  const table = auditLogTable(app);
  return withPartitionLock(partitionKey, async () => {
    for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
      const cached = knownHeadsOf(app).get(partitionKey);
      const head = cached ?? (await readEntity<ChainHeadRow>(table, partitionKey, HEAD_ROW_KEY));
      const seq = (head?.Seq ?? 0) + 1;
      const prevHash = head?.Hash ?? genesisHash(partitionKey);
      const row: AuditRow = { ...base, Seq: seq, PrevHash: prevHash, Hash: chainHash(prevHash, chainContentOf({ ...base, Seq: seq })), WrittenAt: new Date(nowMs).toISOString() };
      const headRow: ChainHeadRow = { partitionKey, rowKey: HEAD_ROW_KEY, Seq: seq, Hash: row.Hash, UpdatedAt: row.WrittenAt };
      const actions: TransactionAction[] = [
        ['create', row],
        ['create', { partitionKey, rowKey: dedupeRowKey(eventId), EventRowKey: rowKey }],
        head ? ['update', headRow, 'Replace', { etag: head.etag }] : ['create', headRow],
      ];
      try {
        const response = await table.submitTransaction(actions);
        // Sub-responses come in action order; the third is the head's (with its new ETag).
        rememberHead(app, headRow, response.subResponses[2]?.etag);
        return { status: 'written', partitionKey, rowKey, seq };
      } catch (error) {
        knownHeadsOf(app).delete(partitionKey);
        const status = restErrorStatus(error);
        // A remembered head that no longer exists (the partition was purged): read it and try again.
        if (cached && status === 404) continue;
        if (status === 409 || status === 412) {
          const existing = await readEntity<{ EventRowKey: string }>(table, partitionKey, dedupeRowKey(eventId));
          if (existing || (await readEntity(table, partitionKey, rowKey))) {
            if (dataBlob && existing?.EventRowKey === rowKey) await removeOrphanBlob(app, table, partitionKey, rowKey, dataBlob);
            return { status: 'duplicate', partitionKey, rowKey, seq: undefined };
          }
          await delay(Math.min(200, 5 * attempt) * (0.5 + Math.random()));
          continue;
        }
        if (status === 400 || status === 413) {
          const message = error instanceof Error ? error.message.split('\n')[0] : 'rejected';
          throw new InvalidAuditEvent(`storage rejected the event: ${String(message).slice(0, 200)}`);
        }
        throw error;
      }
    }
    throw new Error(`audit chain head of ${partitionKey} is contended; the message will be retried`);
  });
}

/** A redelivered large event uploaded its data again under the same name; a different payload is removed. */
async function removeOrphanBlob(app: AppContext, table: ReturnType<typeof auditLogTable>, partitionKey: string, rowKey: string, blob: string) {
  const stored = await readEntity<AuditRow>(table, partitionKey, rowKey);
  if (stored && stored.DataBlob !== blob) await payloadContainer(app).getBlockBlobClient(blob).deleteIfExists().catch(() => undefined);
}

const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The hashed content of a row (see chain.ts); shared by the writer and verify. */
export function chainContentOf(row: Omit<AuditRow, 'PrevHash' | 'Hash' | 'WrittenAt'>) {
  return {
    eventId: row.EventId,
    seq: row.Seq,
    timestamp: row.EventTime,
    organizationId: row.OrganizationId,
    organizationName: row.OrganizationName,
    projectId: row.ProjectId,
    projectName: row.ProjectName,
    actionId: row.ActionId,
    area: row.Area,
    category: row.Category,
    actorKind: row.ActorKind,
    actorId: row.ActorId,
    actorUpn: row.ActorUpn,
    actorDisplayName: row.ActorDisplayName,
    actorClientId: row.ActorClientId,
    authenticationMechanism: row.AuthenticationMechanism,
    ipAddress: row.IpAddress,
    userAgent: row.UserAgent,
    correlationId: row.CorrelationId,
    activityId: row.ActivityId,
    scopeType: row.ScopeType,
    scopeId: row.ScopeId,
    dataSha256: row.DataSha256,
    dataLength: row.DataLength,
  };
}

/**
 * Copies a message the writer can never store to `audit-events-poison` (verbatim, base64 as the host
 * writes it, so it can be moved back after a fix) and logs why. The trigger then succeeds: no retries.
 */
export async function sendToPoison(
  app: AppContext,
  text: string,
  reason: string,
  fields: { messageId?: string | undefined; eventId?: string | undefined } = {},
): Promise<void> {
  const poison = app.storage.queue(poisonQueueName(QUEUES.audit));
  await poison.createIfNotExists();
  const sent = await poison.sendMessage(Buffer.from(text, 'utf8').toString('base64'));
  app.log.warn('audit message moved to poison queue', {
    queue: QUEUES.audit,
    messageId: fields.messageId ?? null,
    poisonMessageId: sent.messageId,
    eventId: fields.eventId ?? null,
    reason: reason.slice(0, 500),
  });
}
