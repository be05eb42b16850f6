import { getAppContext } from '../shared/app-context.js';
import { STORAGE_CONNECTION } from '../shared/config.js';
import { queueFunction } from '../shared/runtime/declarations.js';
import { poisonQueueName, QUEUES } from '../shared/storage/names.js';
import { deliverNotification, InvalidNotification, parseNotification } from '../shared/notifications/sender.js';

/**
 * Delivers notification messages: the recipient's inbox, then the organization's webhook. A message
 * that can never be delivered (not JSON, fails the schema) goes straight to `notifications-poison`;
 * delivery failures throw, so the host retries and poisons after maxDequeueCount.
 */
export const notificationSender = queueFunction(
  'notification-sender',
  { queueName: QUEUES.notifications, connection: STORAGE_CONNECTION },
  async (payload, context) => {
    const app = getAppContext();
    try {
      await deliverNotification(app, parseNotification(payload));
    } catch (error) {
      if (!(error instanceof InvalidNotification)) throw error;
      const original = context.triggerMetadata?.queueTrigger;
      const text = typeof original === 'string' ? original : typeof payload === 'string' ? payload : JSON.stringify(payload ?? null);
      const poison = app.storage.queue(poisonQueueName(QUEUES.notifications));
      await poison.createIfNotExists();
      await poison.sendMessage(Buffer.from(text, 'utf8').toString('base64'));
      app.log.warn('notification moved to poison queue', { reason: error.reason.slice(0, 300) });
    }
  },
);
