import { randomUUID } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { QUEUES } from '../storage/names.js';
import { sendJson } from '../storage/queue.js';
import { redactDeep } from '../secrets/redaction.js';

/**
 * The notification message: what producers put on the `notifications` queue for the sender to
 * deliver (email today). Producers write the subject and plain-text body; the sender only routes
 * and renders. Like audit events, messages never carry secrets (token values, keys).
 */
export const NOTIFICATION_KINDS = [
  'grantRequest.submitted',
  'grantRequest.inReview',
  'grantRequest.decided',
  'grant.revoked',
  'token.expiring',
  'token.expired',
  'token.leaked',
] as const;
export type NotificationKind = (typeof NOTIFICATION_KINDS)[number];

export const notificationRecipientSchema = z
  .object({
    /** Directory user id, when the recipient is a known identity. */
    userId: z.uuid().optional(),
    email: z.email().max(256).optional(),
    displayName: z.string().max(256).optional(),
  })
  .strict()
  .refine((recipient) => recipient.userId !== undefined || recipient.email !== undefined, 'a recipient needs a userId or an email');

export const notificationMessageSchema = z
  .object({
    /** Unique per message: the sender is idempotent on it. */
    id: z.uuid(),
    schemaVersion: z.literal(1),
    kind: z.enum(NOTIFICATION_KINDS),
    /** The organization the message is about; absent for messages about a user's own resources. */
    organizationId: z.uuid().optional(),
    organizationName: z.string().min(1).max(64).optional(),
    recipient: notificationRecipientSchema,
    subject: z.string().min(1).max(256),
    /** Plain text; the sender may wrap it in a template. */
    body: z.string().min(1).max(8000),
    /** Structured facts for templates and links (ids, names, dates, statuses). */
    data: z.record(z.string(), z.unknown()),
    createdAt: z.iso.datetime({ offset: true }),
  })
  .strict();

export type NotificationMessage = z.infer<typeof notificationMessageSchema>;

/** Builds a message with a new id and the app clock's time. */
export function notificationMessage(app: AppContext, message: Omit<NotificationMessage, 'id' | 'schemaVersion' | 'createdAt'>): NotificationMessage {
  return { id: randomUUID(), schemaVersion: 1, createdAt: app.clock.now().toISOString(), ...message };
}

/**
 * Validates the message and puts it on the notifications queue (base64 JSON, as triggers expect),
 * with the trace context of the change that caused it (`AuditContext.traceparent`), if any.
 */
export async function enqueueNotification(app: AppContext, message: NotificationMessage, traceparent?: string): Promise<void> {
  await sendJson(app.storage.queue(QUEUES.notifications), notificationMessageSchema.parse(redactDeep(message)), traceparent);
}
