import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { QUEUES } from '../storage/names.js';
import { encodeQueueMessage } from '../storage/queue.js';
import { currentPepper, derivedKeyOf } from '../secrets/hashing.js';
import { redactDeep } from '../secrets/redaction.js';
import { canonicalJson } from './chain.js';
import type { ProducedEvent } from './context.js';
import { auditEventSchema, type AuditEvent } from './events.js';

/**
 * The second proof an audit message can carry (the first is the outbox row, see outbox.ts): an
 * `ingestion` signature, HMAC-SHA256 under a key derived from the token pepper over the canonical JSON
 * of the message without it. Events that record something with no change behind it (AuditLog.AccessLog,
 * the read itself) are sent this way. The writer stores nothing that carries neither proof: a message
 * put on the queue by anyone else goes to the poison queue with the reason.
 */
const ingestionSchema = z.object({ keyVersion: z.string().min(1).max(8), signature: z.string().regex(/^[0-9a-f]{64}$/) }).strict();

const ingestionKey = (app: AppContext, version: string) => derivedKeyOf(app.config.peppers, version, 'audit-ingestion');

const signatureOver = (key: Buffer, message: object) => createHmac('sha256', key).update(canonicalJson(message)).digest('hex');

/** The queue message of an event with its ingestion signature (token-shaped text redacted first). */
export function signAuditMessage(app: AppContext, event: AuditEvent): AuditEvent & { ingestion: z.infer<typeof ingestionSchema> } {
  const parsed = JSON.parse(JSON.stringify(auditEventSchema.parse(redactDeep(event)))) as AuditEvent;
  const keyVersion = currentPepper(app.config.peppers).version;
  const signature = signatureOver(ingestionKey(app, keyVersion) as Buffer, parsed);
  return { ...parsed, ingestion: { keyVersion, signature } };
}

/** Sends an event with an ingestion signature (no outbox row: nothing else to commit), with its trace context. */
export async function sendSignedAuditEvent(app: AppContext, event: ProducedEvent): Promise<void> {
  await app.storage.queue(QUEUES.audit).sendMessage(encodeQueueMessage(signAuditMessage(app, event), event.traceparent), { messageTimeToLive: -1 });
}

/** 'valid', 'absent', or why the signature does not hold. */
export function checkIngestionSignature(app: AppContext, payload: object): string {
  if (!('ingestion' in payload)) return 'absent';
  const { ingestion, ...message } = payload;
  const parsed = ingestionSchema.safeParse(ingestion);
  if (!parsed.success) return 'ingestion: malformed signature';
  const key = ingestionKey(app, parsed.data.keyVersion);
  if (!key) return 'ingestion: unknown key version';
  let expected: string;
  try {
    expected = signatureOver(key, message);
  } catch {
    return 'ingestion: the message cannot be canonicalised';
  }
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(parsed.data.signature, 'hex')) ? 'valid' : 'ingestion: the signature does not match';
}
