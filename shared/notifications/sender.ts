import { createHmac } from 'node:crypto';
import type { AppContext } from '../app-context.js';
import { guardedFetch, OutboundRefused } from '../http/outbound.js';
import { markWebhookDelivered, storeInInbox, webhookDelivered } from './inbox.js';
import { notificationMessageSchema, type NotificationMessage } from './messages.js';
import { checkWebhookUrl, decryptSecret, readNotificationSettings, SIGNATURE_HEADER } from './settings.js';

/**
 * Delivery of one notification message: into the recipient's inbox (idempotent on the message id),
 * then, when the organization configured a webhook, a signed JSON POST. A failed POST is retried a few
 * times inside the invocation with doubling delays (bounded by NOTIFICATION_WEBHOOK_ATTEMPTS); then the
 * error is rethrown, so the host retries the message after its visibilityTimeout and moves it to
 * `notifications-poison` after maxDequeueCount attempts. A webhook that accepted a notice is recorded
 * on the inbox row, so a redelivered message does not POST it again.
 */

export class InvalidNotification extends Error {
  constructor(readonly reason: string) {
    super(reason);
    this.name = 'InvalidNotification';
  }
}

export function parseNotification(payload: unknown): NotificationMessage {
  let value = payload;
  if (typeof value === 'string') {
    try {
      value = JSON.parse(value) as unknown;
    } catch {
      throw new InvalidNotification('the message is not JSON');
    }
  }
  const parsed = notificationMessageSchema.safeParse(value);
  if (!parsed.success) throw new InvalidNotification(`the message does not match the schema: ${parsed.error.issues[0]?.message ?? ''}`);
  return parsed.data;
}

/** `sha256=<hex>` of HMAC-SHA256 over the exact body bytes. */
export function signBody(secret: string, body: string | Buffer): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`;
}

export function webhookPayload(message: NotificationMessage): string {
  return JSON.stringify({
    id: message.id,
    kind: message.kind,
    createdAt: message.createdAt,
    organization: message.organizationId ? { id: message.organizationId, name: message.organizationName ?? null } : null,
    recipient: { userId: message.recipient.userId ?? null, displayName: message.recipient.displayName ?? null, email: message.recipient.email ?? null },
    subject: message.subject,
    body: message.body,
    data: message.data,
  });
}

export class WebhookDeliveryError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'WebhookDeliveryError';
  }
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/** A webhook answer is not read beyond this: only its status counts. */
const MAX_WEBHOOK_RESPONSE_BYTES = 64 * 1024;

async function postOnce(app: AppContext, url: string, body: string, headers: Record<string, string>): Promise<void> {
  const response = await guardedFetch(app, url, {
    method: 'POST',
    body,
    headers,
    timeoutMs: app.config.lifecycle.webhookTimeoutMs,
    maxResponseBytes: MAX_WEBHOOK_RESPONSE_BYTES,
  });
  await response.body?.cancel().catch(() => undefined);
  if (response.status < 200 || response.status >= 300) throw new WebhookDeliveryError(`the webhook answered ${response.status}`);
}

export async function deliverToWebhook(app: AppContext, message: NotificationMessage, webhook: { url: string; secretCipher: string; keyVersion: string }): Promise<void> {
  const url = checkWebhookUrl(app, webhook.url).toString();
  const body = webhookPayload(message);
  const headers = {
    'Content-Type': 'application/json; charset=utf-8',
    'User-Agent': 'Gatehouse-Webhook/1',
    'X-Gatehouse-Event': message.kind,
    'X-Gatehouse-Delivery': message.id,
    [SIGNATURE_HEADER]: signBody(decryptSecret(app, webhook), body),
  };
  const { webhookAttempts, webhookRetryDelayMs } = app.config.lifecycle;
  let lastError: unknown;
  for (let attempt = 1; attempt <= webhookAttempts; attempt++) {
    try {
      await postOnce(app, url, body, headers);
      return;
    } catch (error) {
      lastError = error;
      // Only the host and the status go to the log: never the secret, the signature or the body.
      app.log.warn('webhook delivery failed', {
        notificationId: message.id,
        host: new URL(url).host,
        attempt,
        error: error instanceof Error ? `${error.name}: ${error.message}`.slice(0, 200) : 'unknown',
      });
      // A refused destination stays refused: no retry reaches it.
      if (error instanceof OutboundRefused) break;
      if (attempt < webhookAttempts) await sleep(webhookRetryDelayMs * 2 ** (attempt - 1));
    }
  }
  throw lastError instanceof Error ? lastError : new WebhookDeliveryError('the webhook delivery failed');
}

export async function deliverNotification(app: AppContext, message: NotificationMessage): Promise<void> {
  const stored = await storeInInbox(app, message);
  if (!message.organizationId) return;
  const settings = await readNotificationSettings(app, message.organizationId);
  if (!settings.webhook) return;
  if (stored === 'duplicate' && (await webhookDelivered(app, message))) return;
  await deliverToWebhook(app, message, settings.webhook);
  await markWebhookDelivered(app, message);
}
