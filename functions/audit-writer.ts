import { getAppContext } from '../shared/app-context.js';
import { STORAGE_CONNECTION } from '../shared/config.js';
import { queueFunction } from '../shared/runtime/declarations.js';
import { QUEUES } from '../shared/storage/names.js';
import { InvalidAuditEvent, handleAuditMessage, sendToPoison } from '../shared/audit/writer.js';
import { observeAuditMessage } from '../shared/audit/telemetry.js';
import { traceparentOf } from '../shared/telemetry/telemetry.js';

/**
 * Stores audit events from the audit queue, exactly once per event id, and only for changes that
 * committed (see shared/audit/outbox.ts). A message that can never be
 * stored (not JSON, fails the schema, refused by storage) is copied to `audit-events-poison` with its
 * reason logged and the invocation succeeds, so it is not retried five times; storage failures throw
 * and the host retries (and poisons after maxDequeueCount).
 */
export const auditWriter = queueFunction('audit-writer', { queueName: QUEUES.audit, connection: STORAGE_CONNECTION }, async (payload, context) => {
  const app = getAppContext();
  const messageId = typeof context.triggerMetadata?.id === 'string' ? context.triggerMetadata.id : undefined;
  try {
    const { event, outcome } = await handleAuditMessage(app, payload, traceparentOf(context));
    observeAuditMessage(context, event, outcome, Date.now());
    if (outcome === 'duplicate') app.log.info('audit event already stored', { eventId: event.id, messageId: messageId ?? null });
  } catch (error) {
    if (!(error instanceof InvalidAuditEvent)) throw error;
    const original = context.triggerMetadata?.queueTrigger;
    const text = typeof original === 'string' ? original : typeof payload === 'string' ? payload : JSON.stringify(payload ?? null);
    const eventId = typeof payload === 'object' && payload !== null && 'id' in payload ? String(payload.id) : undefined;
    await sendToPoison(app, text, error.reason, { messageId, eventId });
  }
});
