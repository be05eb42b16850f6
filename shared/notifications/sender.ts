import { createHmac } from 'node:crypto';
import type { AppContext } from '../app-context.js';
import { guardedFetch, OutboundRefused } from '../http/outbound.js';
import { markWebhookDelivered, storeInInbox, webhookDelivered } from './inbox.js';
import { notificationMessageSchema, type NotificationMessage } from './messages.js';
import { QUEUES } from '../storage/names.js';
import { encodeQueueMessage, sendJson } from '../storage/queue.js';
import { webhookLanesOf } from './lanes.js';
import { checkWebhookUrl, openWebhookSecret, readNotificationSettings, SIGNATURE_HEADER, type Webhook } from './settings.js';
import { HOUR_MS } from '../time.js';

/**
 * Delivery of one notification message, in two stages on two queues so that the inbox never waits
 * on a webhook:
 * 1. `notifications`: into the recipient's inbox (idempotent on the message id); when the
 *    organization configured a webhook, the notice is put on `webhook-deliveries`.
 * 2. `webhook-deliveries`: a signed JSON POST, in the organization's lane (shared/notifications/lanes.ts):
 *    at most a few deliveries of one organization at once per instance, and a circuit breaker that
 *    pauses an endpoint after consecutive failures; a delivery that cannot enter its lane goes back on
 *    the queue for later instead of holding a worker. A failed POST is retried a few times inside the
 *    invocation with doubling delays (NOTIFICATION_WEBHOOK_ATTEMPTS), never holding the worker longer
 *    than NOTIFICATION_WEBHOOK_MAX_HOLD_MS; then the error is rethrown, so the host retries the message
 *    after its visibilityTimeout and moves it to `webhook-deliveries-poison` after maxDequeueCount
 *    attempts. A webhook that accepted a notice is recorded on the inbox row, so a redelivered message
 *    does not POST it again.
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

async function postOnce(app: AppContext, url: string, body: string, headers: Record<string, string>, timeoutMs: number): Promise<void> {
  const response = await guardedFetch(app, url, {
    method: 'POST',
    body,
    headers,
    timeoutMs,
    maxResponseBytes: MAX_WEBHOOK_RESPONSE_BYTES,
  });
  await response.body?.cancel().catch(() => undefined);
  if (response.status < 200 || response.status >= 300) throw new WebhookDeliveryError(`the webhook answered ${response.status}`);
}

export async function deliverToWebhook(app: AppContext, message: NotificationMessage, webhook: Pick<Webhook, 'url' | 'sealedSecret'>): Promise<void> {
  const url = checkWebhookUrl(app, webhook.url).toString();
  const body = webhookPayload(message);
  const headers = {
    'Content-Type': 'application/json; charset=utf-8',
    'User-Agent': 'Gatehouse-Webhook/1',
    'X-Gatehouse-Event': message.kind,
    'X-Gatehouse-Delivery': message.id,
    [SIGNATURE_HEADER]: signBody(openWebhookSecret(app, webhook), body),
  };
  const { webhookAttempts, webhookRetryDelayMs, webhookTimeoutMs, webhookMaxHoldMs } = app.config.lifecycle;
  const deadline = Date.now() + webhookMaxHoldMs;
  let lastError: unknown;
  for (let attempt = 1; attempt <= webhookAttempts; attempt++) {
    try {
      await postOnce(app, url, body, headers, Math.max(1, Math.min(webhookTimeoutMs, deadline - Date.now())));
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
      const delay = webhookRetryDelayMs * 2 ** (attempt - 1);
      // Another attempt only when it could finish within the hold limit.
      if (attempt >= webhookAttempts || Date.now() + delay + 100 >= deadline) break;
      await sleep(delay);
    }
  }
  throw lastError instanceof Error ? lastError : new WebhookDeliveryError('the webhook delivery failed');
}

/**
 * Stage 1: the inbox, then (when the organization has a webhook) the notice on the webhook queue,
 * carrying `traceparent` (the sender invocation's trace context).
 */
export async function deliverNotification(app: AppContext, message: NotificationMessage, traceparent?: string): Promise<void> {
  const stored = await storeInInbox(app, message);
  if (!message.organizationId) return;
  const settings = await readNotificationSettings(app, message.organizationId);
  if (!settings.webhook) return;
  if (stored === 'duplicate' && (await webhookDelivered(app, message))) return;
  await sendJson(app.storage.queue(QUEUES.webhooks), message, traceparent);
}

/** A notice whose webhook delivery is given up (too old): the caller moves it to the poison queue. */
export class WebhookDeliveryExpired extends Error {
  constructor() {
    super('the notice was not delivered to the webhook in time');
    this.name = 'WebhookDeliveryExpired';
  }
}

/** Stage 2: one webhook delivery in its organization's lane; a notice put back carries `traceparent`. */
export async function deliverWebhookNotice(app: AppContext, message: NotificationMessage, traceparent?: string): Promise<void> {
  if (!message.organizationId) return;
  const settings = await readNotificationSettings(app, message.organizationId);
  if (!settings.webhook) return;
  if (await webhookDelivered(app, message)) return;
  if (app.clock.now().getTime() - Date.parse(message.createdAt) > app.config.lifecycle.webhookMaxAgeHours * HOUR_MS) {
    throw new WebhookDeliveryExpired();
  }
  const lane = webhookLanesOf(app).enter(message.organizationId, settings.webhook.url);
  if (!lane.entered) {
    // Back on the queue, invisible until the lane or the endpoint may take it: no worker waits for it.
    const seconds = Math.min(3600, Math.ceil(lane.retryAfterMs / 1000) + Math.floor(Math.random() * 2));
    await app.storage.queue(QUEUES.webhooks).sendMessage(encodeQueueMessage(message, traceparent), { visibilityTimeout: seconds });
    return;
  }
  try {
    await deliverToWebhook(app, message, settings.webhook);
  } catch (error) {
    lane.release('failed');
    throw error;
  }
  lane.release('delivered');
  await markWebhookDelivered(app, message);
}
