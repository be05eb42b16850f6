import { useState } from 'preact/hooks';
import { api, download, ok } from '../api';
import type { operations } from '../api/schema';
import { formatDateTime } from '../format';
import { Alert, CopyField, MoreButton, Notice, Page, StatusBadge, useAction, usePaged } from '../ui/kit';
import { calendarPath } from './tokens';

type Notification = operations['notifications-list']['responses'][200]['content']['application/json']['value'][number];
const VERSION = '7.1' as const;
/** Reminders about the reader's own tokens and keys, highlighted in the inbox. */
const EXPIRY_KINDS = new Set(['token.expiring', 'token.expired']);

export function NotificationsPage({ organization }: { organization: string }) {
  const path = { organization };
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [busy, error, run] = useAction();
  const list = usePaged<Notification>(
    async (continuationToken) => {
      const page = ok(
        await api.GET('/{organization}/_apis/notifications', {
          params: {
            path,
            query: { 'api-version': VERSION, $top: 25, unreadOnly: unreadOnly ? 'true' : 'false', ...(continuationToken ? { continuationToken } : {}) },
          },
        }),
      );
      return { items: page.value, continuation: page.continuationToken };
    },
    [organization, unreadOnly],
  );
  const calendar = calendarPath(organization);
  return (
    <Page title="Notifications" description="Expiry reminders and security notices about your tokens and keys.">
      <div class="toolbar">
        <label class="checkbox">
          <input type="checkbox" checked={unreadOnly} onChange={(event) => setUnreadOnly(event.currentTarget.checked)} /> Unread only
        </label>
      </div>
      <section class="card stack" aria-labelledby="calendar-title">
        <h2 id="calendar-title">Expiry calendar</h2>
        <p class="hint">
          Your tokens' and keys' expiry dates as an iCalendar feed. A calendar app subscribes to this address with a personal access token that has the Tokens
          (Read) scope as its password.
        </p>
        <CopyField label="Calendar address" value={`${location.origin}${calendar}`} />
        <div class="form-actions">
          <button type="button" class="button" disabled={busy} onClick={() => void run(() => download(calendar, `${organization}-expirations.ics`))}>
            Download .ics
          </button>
        </div>
      </section>
      <Alert error={list.error ?? error} />
      {list.items?.length === 0 && <Notice>No notifications.</Notice>}
      <ul class="inbox">
        {(list.items ?? []).map((item) => (
          <li key={item.id} class={['inbox-item', item.isRead ? '' : 'unread', EXPIRY_KINDS.has(item.kind) ? 'expiring' : ''].join(' ').trim()}>
            <div>
              <h2 class="inbox-subject">
                {!item.isRead && <span class="visually-hidden">Unread: </span>}
                {EXPIRY_KINDS.has(item.kind) && <StatusBadge status={item.kind === 'token.expired' ? 'Expired' : 'Expiring'} />} {item.subject}
              </h2>
              <p class="inbox-body">{item.body}</p>
              <p class="hint">{formatDateTime(item.createdDate)}</p>
            </div>
            <button
              type="button"
              class="button button-small"
              disabled={busy}
              onClick={() =>
                void run(async () => {
                  ok(
                    await api.PATCH('/{organization}/_apis/notifications/{id}', {
                      params: { path: { organization, id: item.id }, query: { 'api-version': VERSION } },
                      body: { isRead: !item.isRead },
                    }),
                  );
                  await list.reload();
                })
              }
            >
              {item.isRead ? 'Mark unread' : 'Mark read'}
            </button>
          </li>
        ))}
      </ul>
      <MoreButton hasMore={list.hasMore} loading={list.loading} onClick={() => void list.more()} />
    </Page>
  );
}
