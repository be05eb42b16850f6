import { getAppContext } from '../shared/app-context.js';
import { STORAGE_CONNECTION } from '../shared/config.js';
import { queueFunction } from '../shared/runtime/declarations.js';
import { poisonQueueName, QUEUES } from '../shared/storage/names.js';
import { deliverNotification, deliverWebhookNotice, InvalidNotification, parseNotification, WebhookDeliveryExpired } from '../shared/notifications/sender.js';
import { traceparentOf } from '../shared/telemetry/telemetry.js';
import type { InvocationContext } from '@azure/functions';
import type { AppContext } from '../shared/app-context.js';

/**
 * Delivers notification messages to the recipient's inbox and, when the organization has a webhook,
 * hands them to `webhook-sender` (its own queue, so the inbox never waits on a webhook). A message
 * that can never be delivered (not JSON, fails the schema) goes straight to the poison queue;
 * delivery failures throw, so the host retries and poisons after maxDequeueCount.
 */
export const notificationSender = queueFunction(
  'notification-sender',
  { queueName: QUEUES.notifications, connection: STORAGE_CONNECTION },
  async (payload, context) => {
    const app = getAppContext();
    try {
      await deliverNotification(app, parseNotification(payload), traceparentOf(context));
    } catch (error) {
      if (!(error instanceof InvalidNotification)) throw error;
      await moveToPoison(app, QUEUES.notifications, payload, context, error.reason);
    }
  },
);

/** Webhook deliveries, each in its organization's lane (shared/notifications/sender.ts). */
export const webhookSender = queueFunction('webhook-sender', { queueName: QUEUES.webhooks, connection: STORAGE_CONNECTION }, async (payload, context) => {
  const app = getAppContext();
  try {
    await deliverWebhookNotice(app, parseNotification(payload), traceparentOf(context));
  } catch (error) {
    if (!(error instanceof InvalidNotification) && !(error instanceof WebhookDeliveryExpired)) throw error;
    await moveToPoison(app, QUEUES.webhooks, payload, context, error.message);
  }
});

async function moveToPoison(app: AppContext, queue: string, payload: unknown, context: InvocationContext, reason: string): Promise<void> {
  const original = context.triggerMetadata?.queueTrigger;
  const text = typeof original === 'string' ? original : typeof payload === 'string' ? payload : JSON.stringify(payload ?? null);
  const poison = app.storage.queue(poisonQueueName(queue));
  await poison.createIfNotExists();
  await poison.sendMessage(Buffer.from(text, 'utf8').toString('base64'));
  app.log.warn('notification moved to poison queue', { queue, reason: reason.slice(0, 300) });
}
