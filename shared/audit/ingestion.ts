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
 * put on the queue by anyone else goes to the poison queue with the reason. The same kind of signature,
 * under a key of its own (purpose `audit-outbox`), seals each delivery of an outbox row that several
 * events share (outbox.ts).
 */
export const messageSignatureSchema = z.object({ keyVersion: z.string().min(1).max(8), signature: z.string().regex(/^[0-9a-f]{64}$/) }).strict();
/** Gatehouse's signature over a message it produced. */
export type MessageSignature = z.infer<typeof messageSignatureSchema>;
/** What a signature vouches for: an event with no change behind it, or a delivery of a shared outbox row (outbox.ts). */
export type SignaturePurpose = 'audit-ingestion' | 'audit-outbox';

const keyFor = (app: AppContext, purpose: SignaturePurpose, version: string) => derivedKeyOf(app.config.peppers, version, purpose);

const signatureOver = (key: Buffer, message: object) => createHmac('sha256', key).update(canonicalJson(message)).digest('hex');

/** HMAC-SHA256 of the canonical JSON of `message` under the current pepper's key for `purpose`. */
export function signMessage(app: AppContext, purpose: SignaturePurpose, message: object): MessageSignature {
  const keyVersion = currentPepper(app.config.peppers).version;
  return { keyVersion, signature: signatureOver(keyFor(app, purpose, keyVersion) as Buffer, message) };
}

/** 'valid', or why `signature` does not vouch for `message` under `purpose`. */
export function checkMessageSignature(app: AppContext, purpose: SignaturePurpose, signature: unknown, message: object): string {
  const parsed = messageSignatureSchema.safeParse(signature);
  if (!parsed.success) return 'malformed signature';
  const key = keyFor(app, purpose, parsed.data.keyVersion);
  if (!key) return 'unknown key version';
  let expected: string;
  try {
    expected = signatureOver(key, message);
  } catch {
    return 'the message cannot be canonicalised';
  }
  return timingSafeEqual(Buffer.from(expected, 'hex'), Buffer.from(parsed.data.signature, 'hex')) ? 'valid' : 'the signature does not match';
}

/** The queue message of an event with its ingestion signature (token-shaped text redacted first). */
export function signAuditMessage(app: AppContext, event: AuditEvent): AuditEvent & { ingestion: MessageSignature } {
  const parsed = JSON.parse(JSON.stringify(auditEventSchema.parse(redactDeep(event)))) as AuditEvent;
  return { ...parsed, ingestion: signMessage(app, 'audit-ingestion', parsed) };
}

/** Sends an event with an ingestion signature (no outbox row: nothing else to commit), with its trace context. */
export async function sendSignedAuditEvent(app: AppContext, event: ProducedEvent): Promise<void> {
  await app.storage.queue(QUEUES.audit).sendMessage(encodeQueueMessage(signAuditMessage(app, event), event.traceparent), { messageTimeToLive: -1 });
}

/** 'valid', 'absent', or why the signature does not hold. */
export function checkIngestionSignature(app: AppContext, payload: object): string {
  if (!('ingestion' in payload)) return 'absent';
  const { ingestion, ...message } = payload;
  const verdict = checkMessageSignature(app, 'audit-ingestion', ingestion, message);
  return verdict === 'valid' ? verdict : `ingestion: ${verdict}`;
}
