import { isAuditEventStored } from '../../shared/audit/writer.js';
import { auditEventSchema, type AuditEvent } from '../../shared/audit/events.js';
import { QUEUES, poisonQueueName } from '../../shared/storage/names.js';
import type { TestEnvironment } from './environment.js';

/** Receives and deletes every message waiting on a queue; answers their decoded texts, oldest first. */
export async function drainQueueTexts(env: TestEnvironment, queueName: string): Promise<string[]> {
  const queue = env.app.storage.queue(queueName);
  const texts: string[] = [];
  for (;;) {
    const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (items.length === 0) return texts;
    for (const item of items) {
      texts.push(Buffer.from(item.messageText, 'base64').toString('utf8'));
      await queue.deleteMessage(item.messageId, item.popReceipt);
    }
  }
}

/**
 * Runs every message waiting on the audit queue through the `audit-writer` function (as the host
 * would: effects applied, events stored); answers the events it stored, oldest first.
 */
export async function deliverAuditQueue(env: TestEnvironment, texts: string[] = []): Promise<AuditEvent[]> {
  const events: AuditEvent[] = [];
  for (const text of await drainQueueTexts(env, QUEUES.audit)) {
    texts.push(text);
    const payload = JSON.parse(text) as unknown;
    await env.runtime.invoke('audit-writer', payload);
    const event = auditEventSchema.parse(payload);
    // A message whose change never committed (or not yet) is not an event.
    if (await isAuditEventStored(env.app, event)) events.push(event);
  }
  return events;
}

/** How many messages the audit poison queue holds (about: the queue's own count). */
export async function poisonedAuditMessages(env: TestEnvironment): Promise<number> {
  const properties = await env.app.storage
    .queue(poisonQueueName(QUEUES.audit))
    .getProperties()
    .catch(() => undefined);
  return properties?.approximateMessagesCount ?? 0;
}
