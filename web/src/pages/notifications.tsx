import { useState } from 'preact/hooks';
import { api, ok } from '../api';
import type { operations } from '../api/schema';
import { formatDateTime } from '../format';
import { Alert, MoreButton, Notice, Page, useAction, usePaged } from '../ui/kit';

type Notification = operations['notifications-list']['responses'][200]['content']['application/json']['value'][number];
const VERSION = '7.1' as const;

export function NotificationsPage({ organization }: { organization: string }) {
  const path = { organization };
  const [unreadOnly, setUnreadOnly] = useState(false);
  const [busy, error, run] = useAction();
  const list = usePaged<Notification>(
    async (continuationToken) => {
      const page = ok(
        await api.GET('/{organization}/_apis/notifications', {
          params: { path, query: { 'api-version': VERSION, $top: 25, unreadOnly: unreadOnly ? 'true' : 'false', ...(continuationToken ? { continuationToken } : {}) } },
        }),
      );
      return { items: page.value, continuation: page.continuationToken };
    },
    [organization, unreadOnly],
  );
  const calendar = `/${encodeURIComponent(organization)}/_apis/tokens/pats/expirations.ics?api-version=7.1`;
  return (
    <Page title="Notifications" description="Expiry reminders and security notices about your tokens and keys.">
      <div class="toolbar">
        <label class="checkbox">
          <input type="checkbox" checked={unreadOnly} onChange={(event) => setUnreadOnly(event.currentTarget.checked)} /> Unread only
        </label>
        <span class="hint">
          Subscribe to your expiry dates: <a href={`/${encodeURIComponent(organization)}/_usersSettings/tokens`}>download the .ics calendar</a> from Personal access tokens (
          <code>{calendar}</code>).
        </span>
      </div>
      <Alert error={list.error ?? error} />
      {list.items?.length === 0 && <Notice>No notifications.</Notice>}
      <ul class="inbox">
        {(list.items ?? []).map((item) => (
          <li key={item.id} class={item.isRead ? 'inbox-item' : 'inbox-item unread'}>
            <div>
              <h2 class="inbox-subject">
                {!item.isRead && <span class="visually-hidden">Unread: </span>}
                {item.subject}
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
