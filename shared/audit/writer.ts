import type { TransactionAction } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { memoForApp } from '../app-memo.js';
import { restErrorStatus } from '../http/errors.js';
import { readEntity } from '../storage/entities.js';
import { QUEUES, poisonQueueName } from '../storage/names.js';
import { auditEventSchema, type AuditEvent } from './events.js';
import { redactDeep } from '../secrets/redaction.js';
import { checkIngestionSignature } from './ingestion.js';
import { applyEffects, completeDelivery, deferDelivery, deliveryOf, proofOf } from './outbox.js';
import { MAX_DATA_DEPTH, canonicalJson, chainHash, genesisHash, sha256Hex } from './chain.js';
import { writeCheckpoint } from './checkpoints.js';
import { telemetry } from '../telemetry/telemetry.js';
import {
  HEAD_ROW_KEY,
  auditDaysTable,
  auditLogTable,
  dayKey,
  dedupeRowKey,
  eventRowKey,
  firstRetainedDay,
  cachedAuditSettings,
  partitionKeyOf,
  payloadContainer,
  type AuditRow,
  type ChainHeadRow,
} from './repository.js';
import { isGuid } from '../ids.js';
import { DAY_MS } from '../time.js';

/**
 * The audit writer: stores each event exactly once although the queue delivers at least once.
 *
 * One entity group transaction per event, in the event's day partition: create the event row
 * (`e_<inverted ticks>_<id>`), create the idempotency row (`d_<id>`) and create or replace the chain
 * head with the ETag read before. A redelivered event fails the transaction with 409 on the rows
 * that already exist: it is reported as a duplicate and acknowledged. A 412 / 409 on the head alone
 * means another writer appended first: the head is read again and the append retried. After each
 * append the new last link is checkpointed outside the table (checkpoints.ts) before the event's
 * message is settled.
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
export const MAX_FUTURE_SKEW_MS = DAY_MS;
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

function withoutUndefined<T extends object>(value: T): T {
  return Object.fromEntries(Object.entries(value).filter(([, v]) => v !== undefined)) as T;
}

/** An event ready to append: its row without Seq, PrevHash, Hash and WrittenAt. */
type PreparedRow = Omit<AuditRow, 'Seq' | 'PrevHash' | 'Hash' | 'WrittenAt'>;
interface PendingAppend {
  readonly row: PreparedRow;
  readonly eventId: string;
  readonly dataBlob: string | undefined;
  readonly nowMs: number;
  resolve: (outcome: WriteOutcome) => void;
  reject: (error: unknown) => void;
}

/** Events per group transaction: two rows each plus the head, within the 100-entity limit. */
const MAX_GROUP = 32;

/**
 * Appends waiting per partition, and whether a flush is running. One flush at a time per partition
 * serialises this process's appends (the head ETag covers other instances); while a transaction is in
 * flight, the events that arrive meanwhile gather and go together in the next one (group commit).
 */
const appendQueuesOf = memoForApp(() => new Map<string, { pending: PendingAppend[]; flushing: boolean }>());

function appendQueueOf(app: AppContext, partitionKey: string) {
  const queues = appendQueuesOf(app);
  let queue = queues.get(partitionKey);
  if (!queue) queues.set(partitionKey, (queue = { pending: [], flushing: false }));
  return queue;
}

function enqueueAppend(app: AppContext, partitionKey: string, append: Omit<PendingAppend, 'resolve' | 'reject'>): Promise<WriteOutcome> {
  return new Promise<WriteOutcome>((resolve, reject) => {
    const queue = appendQueueOf(app, partitionKey);
    queue.pending.push({ ...append, resolve, reject });
    if (!queue.flushing) void flushAppends(app, partitionKey, queue);
  });
}

async function flushAppends(app: AppContext, partitionKey: string, queue: { pending: PendingAppend[]; flushing: boolean }): Promise<void> {
  queue.flushing = true;
  try {
    while (queue.pending.length > 0) {
      const group = queue.pending.splice(0, MAX_GROUP);
      const rows = group.length > 1 ? await appendGroup(app, partitionKey, group) : undefined;
      if (rows) {
        anchorThenSettle(app, partitionKey, rows, group);
        continue;
      }
      // One event, or a group that failed as a whole (a redelivered event, another writer first):
      // each goes on its own, which sorts out duplicates and contention.
      for (const append of group) {
        await appendOne(app, partitionKey, append).then((outcome) => {
          if (outcome.row) anchorThenSettle(app, partitionKey, [outcome.row], [append]);
          else append.resolve(outcome);
        }, append.reject);
      }
    }
  } finally {
    queue.flushing = false;
    appendQueuesOf(app).delete(partitionKey);
  }
}

/**
 * Checkpoints the last link of rows just appended (checkpoints.ts), then answers their appends: an
 * event's queue message is settled only once its chain is anchored outside the table, or once the
 * checkpoint failed (logged; the checkpoint timer anchors the day later). The next group of the
 * partition is appended meanwhile.
 */
function anchorThenSettle(app: AppContext, partitionKey: string, rows: readonly AuditRow[], appends: readonly PendingAppend[]): void {
  const last = rows.at(-1) as AuditRow;
  const day = partitionKey.slice(partitionKey.lastIndexOf('|') + 1);
  void writeCheckpoint(app, { organizationId: last.OrganizationId, day, sequence: last.Seq, headHash: last.Hash })
    .catch((error: unknown) => {
      app.log.warn('audit checkpoint not written; the checkpoint timer will write it', {
        partitionKey,
        seq: last.Seq,
        error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 300) : 'unknown',
      });
    })
    .then(() => appends.forEach((append, i) => append.resolve({ status: 'written', partitionKey, rowKey: append.row.rowKey, seq: rows[i]?.Seq })));
}

/**
 * The chain head of each partition as this process last wrote it, with its ETag, so an append skips
 * the head read. Another writer's append changes the ETag: the transaction fails with 412 and the
 * head is read again, exactly as before.
 */
const knownHeadsOf = memoForApp(() => new Map<string, ChainHeadRow & { etag: string }>());
const KNOWN_HEADS_MAX = 10_000;

/** `auditdays` rows this process has written (organization|day). */
const daysWrittenOf = memoForApp(() => new Set<string>());

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
 * Handles one audit queue message. A message without `delivery` is stored only with a valid ingestion
 * signature (ingestion.ts). A message from the outbox (with `delivery`) is stored only once
 * its change is proven committed: effects applied, event written, outbox row removed, in that order,
 * so a retry after a failure at any step repeats the rest. A row several events share stays for its
 * purge: a delivery whose event is already stored then applies nothing again. Throws
 * InvalidAuditEvent for messages that can never be stored. `traceparent` (the writer invocation's)
 * goes with a message sent again for later.
 */
export async function handleAuditMessage(app: AppContext, payload: unknown, traceparent?: string): Promise<{ event: AuditEvent; outcome: MessageOutcome }> {
  const event = parseAuditEvent(payload);
  const value: unknown = typeof payload === 'string' ? JSON.parse(payload) : payload;
  const { delivery, error } = deliveryOf(value);
  if (error) throw new InvalidAuditEvent(error);
  if (!delivery) {
    // No outbox row to prove the event: only a signed ingestion message is stored.
    const signature = checkIngestionSignature(app, value as object);
    if (signature !== 'valid') {
      throw new InvalidAuditEvent(signature === 'absent' ? 'no proof: the message has neither an outbox delivery nor an ingestion signature' : signature);
    }
    return { event, outcome: (await writeAuditEvent(app, event)).status };
  }
  const proven = await proofOf(app, event, delivery);
  if ('error' in proven) throw new InvalidAuditEvent(proven.error);
  if (proven.proof === 'uncommitted') {
    if (await isAuditEventStored(app, event)) return { event, outcome: 'duplicate' };
    const outcome = await deferDelivery(app, value as object, delivery, traceparent);
    if (outcome === 'abandoned') {
      app.log.warn('audit event dropped: its change never committed', { eventId: event.id, actionId: event.actionId, sentAt: delivery.sentAt });
    }
    return { event, outcome };
  }
  if (proven.proof === 'shared' && (await isAuditEventStored(app, event))) return { event, outcome: 'duplicate' };
  await applyEffects(app, delivery);
  const written = await writeAuditEvent(app, event);
  if (proven.proof === 'own') await completeDelivery(app, delivery);
  return { event, outcome: written.status };
}

/** True when the event is already in the audit log (its idempotency row exists). */
export async function isAuditEventStored(app: AppContext, event: AuditEvent): Promise<boolean> {
  const partitionKey = partitionKeyOf(event.organizationId.toLowerCase(), dayKey(Date.parse(event.timestamp)));
  return (await readEntity(auditLogTable(app), partitionKey, dedupeRowKey(event.id.toLowerCase()))) !== undefined;
}

/** Stores one validated event; idempotent on (event id, timestamp). Throws InvalidAuditEvent for events that can never be stored. */
export async function writeAuditEvent(app: AppContext, received: AuditEvent): Promise<WriteOutcome> {
  // Every stored event passes the same secret scan, whichever path brought it.
  const event = redactDeep(received);
  const ms = Date.parse(event.timestamp);
  const nowMs = app.clock.now().getTime();
  if (ms > nowMs + MAX_FUTURE_SKEW_MS) throw new InvalidAuditEvent('timestamp is more than a day in the future');
  const day = dayKey(ms);
  const { retentionDays } = await cachedAuditSettings(app, event.organizationId.toLowerCase());
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
    await (await payloadContainer(app)).getBlockBlobClient(dataBlob).upload(body, body.length, {
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
  const actorId = isGuid(actor.id) ? actor.id.toLowerCase() : actor.id;
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

  return enqueueAppend(app, partitionKey, { row: base, eventId, dataBlob, nowMs });
}

function chained(row: PreparedRow, head: { Seq: number; Hash: string } | undefined, partitionKey: string, nowMs: number): AuditRow {
  const seq = (head?.Seq ?? 0) + 1;
  const prevHash = head?.Hash ?? genesisHash(partitionKey);
  return { ...row, Seq: seq, PrevHash: prevHash, Hash: chainHash(prevHash, chainContentOf({ ...row, Seq: seq })), WrittenAt: new Date(nowMs).toISOString() };
}

const headAfter = (partitionKey: string, last: AuditRow): ChainHeadRow => ({
  partitionKey,
  rowKey: HEAD_ROW_KEY,
  Seq: last.Seq,
  Hash: last.Hash,
  UpdatedAt: last.WrittenAt,
});

/** Appends a group in one transaction and returns its rows; undefined (nothing written) when storage refuses it. */
async function appendGroup(app: AppContext, partitionKey: string, group: readonly PendingAppend[]): Promise<AuditRow[] | undefined> {
  const table = auditLogTable(app);
  const cached = knownHeadsOf(app).get(partitionKey);
  let head: (ChainHeadRow & { etag?: string }) | undefined;
  try {
    head = cached ?? (await readEntity<ChainHeadRow>(table, partitionKey, HEAD_ROW_KEY));
  } catch {
    return undefined;
  }
  const rows: AuditRow[] = [];
  for (const append of group) rows.push(chained(append.row, rows.at(-1) ?? head, partitionKey, append.nowMs));
  const last = rows.at(-1) as AuditRow;
  const headRow = headAfter(partitionKey, last);
  const actions: TransactionAction[] = [
    ...rows.flatMap((row, i): TransactionAction[] => [
      ['create', row],
      ['create', { partitionKey, rowKey: dedupeRowKey(group[i]?.eventId ?? ''), EventRowKey: row.rowKey }],
    ]),
    head ? ['update', headRow, 'Replace', { etag: head.etag }] : ['create', headRow],
  ];
  try {
    const response = await table.submitTransaction(actions);
    rememberHead(app, headRow, response.subResponses[actions.length - 1]?.etag);
  } catch {
    knownHeadsOf(app).delete(partitionKey);
    return undefined;
  }
  return rows;
}

/** Appends one event, retrying on contention (with the row written); a redelivered event is reported as a duplicate. */
async function appendOne(app: AppContext, partitionKey: string, append: PendingAppend): Promise<WriteOutcome & { row?: AuditRow }> {
  const table = auditLogTable(app);
  const { row: base, eventId, dataBlob, nowMs } = append;
  const rowKey = base.rowKey;
  for (let attempt = 1; attempt <= MAX_APPEND_ATTEMPTS; attempt++) {
    const cached = knownHeadsOf(app).get(partitionKey);
    const head = cached ?? (await readEntity<ChainHeadRow>(table, partitionKey, HEAD_ROW_KEY));
    const row = chained(base, head, partitionKey, nowMs);
    const seq = row.Seq;
    const headRow = headAfter(partitionKey, row);
    const actions: TransactionAction[] = [
      ['create', row],
      ['create', { partitionKey, rowKey: dedupeRowKey(eventId), EventRowKey: rowKey }],
      head ? ['update', headRow, 'Replace', { etag: head.etag }] : ['create', headRow],
    ];
    try {
      const response = await table.submitTransaction(actions);
      // Sub-responses come in action order; the third is the head's (with its new ETag).
      rememberHead(app, headRow, response.subResponses[2]?.etag);
      return { status: 'written', partitionKey, rowKey, seq, row };
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
}

/** A redelivered large event uploaded its data again under the same name; a different payload is removed. */
async function removeOrphanBlob(app: AppContext, table: ReturnType<typeof auditLogTable>, partitionKey: string, rowKey: string, blob: string) {
  const stored = await readEntity<AuditRow>(table, partitionKey, rowKey);
  if (stored && stored.DataBlob !== blob)
    await (
      await payloadContainer(app)
    )
      .getBlockBlobClient(blob)
      .deleteIfExists()
      .catch(() => undefined);
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
  telemetry.poisonMessage('audit-writer');
  app.log.warn('audit message moved to poison queue', {
    queue: QUEUES.audit,
    messageId: fields.messageId ?? null,
    poisonMessageId: sent.messageId,
    eventId: fields.eventId ?? null,
    reason: reason.slice(0, 500),
  });
}
