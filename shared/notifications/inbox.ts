import { odata } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import type { OrganizationScope } from '../request-scope.js';
import { badRequest, notFound, restErrorStatus } from '../http/errors.js';
import { assertSafeKey, readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import type { NotificationMessage } from './messages.js';

/**
 * Per-user inbox (`notificationinbox`): PK = `<user id>|<organization id>` (so an organization's
 * route shows only its own notices), RK `n_<inverted ms>_<id>` (newest first) for the notice and
 * `id_<id>` pointing at it. Both rows are created in one transaction, so storing a notice twice fails
 * with 409 and the sender treats that as done: delivery is at-least-once, the inbox holds it once.
 */

const NO_ORGANIZATION = '_';
const MAX_MS = 9_999_999_999_999;

export const inboxPartition = (userId: string, organizationId: string | undefined) =>
  assertSafeKey(`${userId.toLowerCase()}|${organizationId?.toLowerCase() ?? NO_ORGANIZATION}`);

const noticeRowKey = (createdAt: string, id: string) => `n_${String(MAX_MS - Date.parse(createdAt)).padStart(13, '0')}_${id}`;
const pointerRowKey = (id: string) => `id_${id.toLowerCase()}`;

export const inboxNotificationSchema = z.object({
  id: z.string(),
  kind: z.string(),
  subject: z.string(),
  body: z.string(),
  data: z.record(z.string(), z.unknown()),
  organizationId: z.string().nullable(),
  createdDate: z.string(),
  isRead: z.boolean(),
  readDate: z.string().nullable(),
});
export type InboxNotification = z.infer<typeof inboxNotificationSchema>;

export const inboxPageSchema = z.object({
  count: z.number(),
  value: z.array(inboxNotificationSchema),
  continuationToken: z.string().nullable(),
});

export const inboxQuerySchema = z.object({
  $top: z.coerce.number().int().min(1).max(100).default(20),
  continuationToken: z.string().max(200).optional(),
  unreadOnly: z
    .enum(['true', 'false'])
    .default('false')
    .transform((value) => value === 'true'),
});

export const markReadSchema = z.object({ isRead: z.boolean() }).strict();

/**
 * The inbox a notice belongs to: its recipient's user id, or the known identity its email names while
 * that person is a member of the notice's organization (so naming someone's email in a request cannot
 * put notices in a stranger's inbox).
 */
async function inboxOwnerOf(app: AppContext, message: NotificationMessage): Promise<string | undefined> {
  if (message.recipient.userId) return message.recipient.userId;
  if (!message.recipient.email || !message.organizationId) return undefined;
  const user = await app.directory.getUserByEmail(message.recipient.email);
  if (!user || !(await app.directory.getMembership(message.organizationId, 'user', user.id))) return undefined;
  return user.id;
}

/** Stores a notice for its recipient; 'duplicate' when it is already there (or there is no inbox to put it in). */
export async function storeInInbox(app: AppContext, message: NotificationMessage): Promise<'stored' | 'duplicate'> {
  const userId = await inboxOwnerOf(app, message);
  if (!userId) return 'duplicate';
  const partitionKey = inboxPartition(userId, message.organizationId);
  const rowKey = noticeRowKey(message.createdAt, message.id);
  try {
    await app.storage.table(TABLES.notificationInbox).submitTransaction([
      ['create', { partitionKey, rowKey: pointerRowKey(message.id), noticeRowKey: rowKey }],
      [
        'create',
        {
          partitionKey,
          rowKey,
          id: message.id,
          kind: message.kind,
          subject: message.subject,
          body: message.body,
          data: JSON.stringify(message.data),
          organizationId: message.organizationId ?? '',
          createdAt: message.createdAt,
          readAt: '',
          webhookDeliveredAt: '',
        },
      ],
    ]);
    return 'stored';
  } catch (error) {
    if (restErrorStatus(error) === 409) return 'duplicate';
    throw error;
  }
}

/** Whether the webhook already took this notice (so a redelivered message does not POST it again). */
export async function webhookDelivered(app: AppContext, message: NotificationMessage): Promise<boolean> {
  const row = await noticeRow(app, await inboxOwnerOf(app, message), message.organizationId, message.id);
  return Boolean(row?.webhookDeliveredAt);
}

export async function markWebhookDelivered(app: AppContext, message: NotificationMessage): Promise<void> {
  const row = await noticeRow(app, await inboxOwnerOf(app, message), message.organizationId, message.id);
  if (!row) return;
  await app.storage
    .table(TABLES.notificationInbox)
    .updateEntity({ partitionKey: row.partitionKey, rowKey: row.rowKey, webhookDeliveredAt: app.clock.now().toISOString() }, 'Merge');
}

async function noticeRow(
  app: AppContext,
  userId: string | undefined,
  organizationId: string | undefined,
  id: string,
): Promise<(Record<string, unknown> & { partitionKey: string; rowKey: string }) | undefined> {
  if (!userId) return undefined;
  const table = app.storage.table(TABLES.notificationInbox);
  const partitionKey = inboxPartition(userId, organizationId);
  const pointer = await readEntity<{ noticeRowKey: string }>(table, partitionKey, pointerRowKey(id));
  if (!pointer) return undefined;
  const row = await readEntity<Record<string, unknown>>(table, partitionKey, pointer.noticeRowKey);
  return row ? { ...row, partitionKey, rowKey: pointer.noticeRowKey } : undefined;
}

function view(row: Record<string, unknown>): InboxNotification {
  const str = (value: unknown) => (typeof value === 'string' ? value : '');
  let data: Record<string, unknown>;
  try {
    data = JSON.parse(str(row.data) || '{}') as Record<string, unknown>;
  } catch {
    data = {};
  }
  return {
    id: str(row.id),
    kind: str(row.kind),
    subject: str(row.subject),
    body: str(row.body),
    data,
    organizationId: str(row.organizationId) || null,
    createdDate: str(row.createdAt),
    isRead: Boolean(str(row.readAt)),
    readDate: str(row.readAt) || null,
  };
}

const invalidContinuation = () => badRequest('invalidContinuationToken', 'The continuation token is not valid for this request.');

/** A page of the caller's notices in an organization, newest first (keyset paging on the row key). */
export async function listInbox(
  { app, caller, organization }: OrganizationScope,
  query: z.infer<typeof inboxQuerySchema>,
): Promise<z.infer<typeof inboxPageSchema>> {
  const partitionKey = inboxPartition(caller.id, organization.organization.id);
  let after = 'n_';
  if (query.continuationToken) {
    const decoded = Buffer.from(query.continuationToken, 'base64url').toString('utf8');
    if (!/^n_\d{13}_[0-9a-f-]{36}$/i.test(decoded)) throw invalidContinuation();
    after = decoded;
  }
  const filter = query.unreadOnly
    ? odata`PartitionKey eq ${partitionKey} and RowKey gt ${after} and RowKey lt ${'n`'} and readAt eq ${''}`
    : odata`PartitionKey eq ${partitionKey} and RowKey gt ${after} and RowKey lt ${'n`'}`;
  const rows: Record<string, unknown>[] = [];
  // One more than asked tells whether another page exists.
  for await (const page of app.storage
    .table(TABLES.notificationInbox)
    .listEntities({ queryOptions: { filter } })
    .byPage({ maxPageSize: query.$top + 1 })) {
    rows.push(...page);
    if (rows.length > query.$top) break;
  }
  const items = rows.slice(0, query.$top);
  const last = items[items.length - 1];
  const continuationToken = rows.length > query.$top && last ? Buffer.from(String(last.rowKey)).toString('base64url') : null;
  return { count: items.length, value: items.map(view), continuationToken };
}

/** Marks one of the caller's notices read or unread. */
export async function markRead({ app, caller, organization }: OrganizationScope, id: string, isRead: boolean): Promise<InboxNotification> {
  const row = await noticeRow(app, caller.id, organization.organization.id, id);
  if (!row) throw notFound('notificationNotFound', `No notification with id '${id}' was found.`);
  const readAt = isRead ? (typeof row.readAt === 'string' && row.readAt ? row.readAt : app.clock.now().toISOString()) : '';
  await app.storage.table(TABLES.notificationInbox).updateEntity({ partitionKey: row.partitionKey, rowKey: row.rowKey, readAt }, 'Merge');
  return view({ ...row, readAt });
}
