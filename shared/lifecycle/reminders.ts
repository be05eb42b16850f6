import { truncate } from '../text.js';
import { createHash } from 'node:crypto';
import { odata } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { restErrorStatus } from '../http/errors.js';
import { enqueueNotification, notificationMessageSchema, type NotificationMessage } from '../notifications/messages.js';
import { readNotificationSettings } from '../notifications/settings.js';
import { readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import { advanceCursor, compareNumbers, readCursor, reminderCursorName } from './cursors.js';
import { parseEntry } from './expiry-index.js';
import { bucketOf, pad } from '../storage/expiry-keys.js';
import { DAY_MS } from '../time.js';
import type { ExpirableKind, ExpiringItem, RunScope } from './kinds.js';

/**
 * The reminder ladder. For every rung value in use (the defaults plus the registry), each kind keeps a
 * cursor: "reminders for items expiring up to T were handled". A run reads the expiry index rows with
 * validTo in (cursor, now + rung days] (one range query across the buckets of that window, returning
 * only those rows), so its reads grow with the items entering a rung, not with the items that exist.
 *
 * For each row: the item's organization must use that rung, and the item must have existed when the
 * rung's moment passed (validFrom ≤ validTo − rung), so a token created inside a rung gets only the
 * rungs still ahead. "Never twice": a `notificationsent` row (PK = kind_id, RK = validTo_rung) is
 * created with 'create' before the message is queued, so a second attempt gets 409; the stored message
 * is re-queued if the first attempt died before queueing (same message id, and the sender is
 * idempotent on it). A renewed token has a new validTo and so a fresh ladder.
 */

export type NoticeMarker = number | 'expired';

/** A stable UUID (version-5 layout) for a notice, so duplicates collapse on the sender's id check. */
export function noticeId(item: ExpiringItem, marker: NoticeMarker): string {
  const hex = createHash('sha256')
    .update(`${item.kind}|${item.id}|${Date.parse(item.validTo)}|${marker}`)
    .digest('hex');
  const variant = ((parseInt(hex.charAt(16), 16) & 0x3) | 0x8).toString(16);
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-5${hex.slice(13, 16)}-${variant}${hex.slice(17, 20)}-${hex.slice(20, 32)}`;
}

const sentKeys = (item: ExpiringItem, marker: NoticeMarker) => ({
  partitionKey: `${item.kind}_${item.id.toLowerCase()}`,
  rowKey: `${pad(Date.parse(item.validTo))}_${typeof marker === 'number' ? `r${String(marker).padStart(3, '0')}` : marker}`,
});

const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? '' : 's'}`;

export async function buildNotice(kind: ExpirableKind, item: ExpiringItem, marker: NoticeMarker, now: Date, scope: RunScope): Promise<NotificationMessage> {
  const organization = (await scope.directory.organization(item.organizationId)) ?? { id: item.organizationId, name: item.organizationId };
  const owner = await scope.directory.user(item.ownerId);
  const validTo = Date.parse(item.validTo);
  const daysLeft = Math.max(0, Math.ceil((validTo - now.getTime()) / DAY_MS));
  const label = kind.label;
  const expired = marker === 'expired';
  const subject = expired ? `Your ${label} "${item.name}" has expired` : `Your ${label} "${item.name}" expires in ${plural(daysLeft, 'day')}`;
  const resource = item.kind === 'pat' ? 'pats' : 'sshkeys';
  const help = expired
    ? `Create a replacement with POST /${organization.name}/_apis/tokens/${resource}?api-version=7.1-preview.1 and switch your clients to it.`
    : kind.renewalHelp(item, organization);
  const body = [
    `Hello ${owner?.displayName ?? ''}`.trim() + ',',
    '',
    expired
      ? `Your ${label} "${item.name}" in organization ${organization.name} expired on ${item.validTo} and no longer works.`
      : `Your ${label} "${item.name}" in organization ${organization.name} expires on ${item.validTo} (in ${plural(daysLeft, 'day')}).`,
    '',
    help,
  ].join('\n');
  const recipient = {
    userId: item.ownerId,
    ...(owner?.email && /^[^@\s]+@[^@\s]+$/.test(owner.email) ? { email: owner.email } : {}),
    ...(owner?.displayName ? { displayName: truncate(owner.displayName, 256) } : {}),
  };
  return notificationMessageSchema.parse({
    id: noticeId(item, marker),
    schemaVersion: 1,
    kind: expired ? 'token.expired' : 'token.expiring',
    organizationId: organization.id,
    organizationName: organization.name.slice(0, 64),
    recipient,
    subject: truncate(subject, 256),
    body: body.slice(0, 8000),
    data: {
      itemKind: item.kind,
      id: item.id,
      name: item.name,
      organization: organization.name,
      validTo: item.validTo,
      daysLeft,
      ...(typeof marker === 'number' ? { rung: marker } : {}),
      howToRenew: help,
    },
    createdAt: now.toISOString(),
  });
}

/** Queues one notice at most once (see the module comment). Returns false when it was already sent. */
export async function queueNoticeOnce(
  app: AppContext,
  kind: ExpirableKind,
  item: ExpiringItem,
  marker: NoticeMarker,
  now: Date,
  scope: RunScope,
): Promise<boolean> {
  const table = app.storage.table(TABLES.notificationSent);
  const keys = sentKeys(item, marker);
  let message = await buildNotice(kind, item, marker, now, scope);
  try {
    await table.createEntity({ ...keys, message: JSON.stringify(message), createdAt: now.toISOString(), enqueuedAt: '' });
  } catch (error) {
    if (restErrorStatus(error) !== 409) throw error;
    const existing = await readEntity<{ message: string; enqueuedAt: string }>(table, keys.partitionKey, keys.rowKey);
    if (!existing || existing.enqueuedAt) return false;
    // An earlier attempt recorded the notice but may have died before queueing it.
    message = notificationMessageSchema.parse(JSON.parse(existing.message));
  }
  await enqueueNotification(app, message);
  await table.updateEntity({ ...keys, enqueuedAt: app.clock.now().toISOString() }, 'Merge').catch((error: unknown) => {
    app.log.warn('notice queued but not marked', { status: restErrorStatus(error) ?? null });
  });
  return true;
}

/** Reminders of one kind for one rung value: the rows entering the rung since the last run. */
export async function remindKind(
  app: AppContext,
  kind: ExpirableKind,
  rung: number,
  now: Date,
  scope: RunScope,
  budget: { remaining: number },
  ladderOf: (organizationId: string) => Promise<readonly number[]>,
): Promise<void> {
  const { counters } = scope;
  const name = reminderCursorName(kind.kind, rung);
  const cursor = await readCursor(app, name, counters);
  const to = now.getTime() + rung * DAY_MS;
  if (!cursor.value) {
    // A rung seen for the first time starts now: items already inside it get the rungs still ahead.
    await advanceCursor(app, name, String(to), compareNumbers, cursor);
    return;
  }
  const from = Number(cursor.value);
  if (!(to > from)) return;
  const table = app.storage.table(kind.indexTable);
  const filter = odata`PartitionKey ge ${bucketOf(from + 1)} and PartitionKey le ${bucketOf(to)} and RowKey ge ${pad(from + 1)} and RowKey lt ${pad(to + 1)}`;
  let through = to;
  outer: for await (const page of table.listEntities({ queryOptions: { filter } }).byPage({ maxPageSize: 100 })) {
    counters.indexRowsRead += page.length;
    for (const row of page) {
      const entry = parseEntry(row);
      if (!entry || row.kind === 'rotationGrace') continue;
      if (budget.remaining <= 0) {
        counters.budgetExhausted = true;
        through = entry.dueMs - 1;
        break outer;
      }
      budget.remaining--;
      try {
        const item = await kind.describe(app, entry.ownerId, entry.id, scope);
        const due = item && item.live && Date.parse(item.validTo) === entry.dueMs && entry.dueMs > now.getTime();
        const ladder = item && due ? await ladderOf(item.organizationId) : [];
        const existedAtRung = item !== undefined && Date.parse(item.validFrom) <= entry.dueMs - rung * DAY_MS;
        if (!item || !due || !ladder.includes(rung) || !existedAtRung) {
          counters.remindersSkipped++;
          continue;
        }
        if (await queueNoticeOnce(app, kind, item, rung, now, scope)) counters.remindersQueued++;
        else counters.remindersSkipped++;
      } catch (error) {
        counters.failed++;
        through = entry.dueMs - 1;
        app.log.warn('lifecycle: a reminder could not be queued', {
          kind: kind.kind,
          rung,
          id: entry.id,
          error: error instanceof Error ? error.message.slice(0, 300) : 'unknown',
        });
        break outer;
      }
    }
  }
  if (through > from) await advanceCursor(app, name, String(through), compareNumbers, cursor);
}

/** Ladder look-ups of one run (one settings read per organization, counted). */
export function ladderCache(app: AppContext, scope: RunScope): (organizationId: string) => Promise<readonly number[]> {
  const cache = new Map<string, Promise<readonly number[]>>();
  return (organizationId) => {
    let found = cache.get(organizationId);
    if (!found) {
      scope.counters.directoryReads++;
      cache.set(organizationId, (found = readNotificationSettings(app, organizationId).then((settings) => settings.ladder)));
    }
    return found;
  };
}
