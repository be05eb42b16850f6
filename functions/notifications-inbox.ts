import { USER_SCOPES } from '../shared/auth/scopes.js';
import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { inboxNotificationSchema, inboxPageSchema, inboxQuerySchema, listInbox, markRead, markReadSchema } from '../shared/notifications/inbox.js';

/** Any signed-in member reads their own inbox; Project-Scoped Users too (it is theirs). */
const access = { users: { scopes: USER_SCOPES.notification }, organization: 'member', projectScopedUsers: 'allowed' } as const;

export const notificationsList = endpoint({
  name: 'notifications-list',
  route: '{organization}/_apis/notifications',
  location: { id: '204381c6-9eea-4b57-a815-4f99723ac2a2', area: 'notifications', resource: 'notifications' },
  methods: ['GET'],
  summary: "The caller's notifications in this organization, newest first, paged ($top, continuationToken, unreadOnly).",
  tags: ['Notifications'],
  apiVersions: API_VERSIONS.notifications,
  access,
  params: organizationParam,
  query: inboxQuerySchema,
  responses: { 200: { description: 'A page of notifications; continuationToken is null on the last page.', schema: inboxPageSchema } },
  handler: async (input) => {
    const page = await listInbox(input, input.query);
    const headers: Record<string, string> = page.continuationToken ? { 'x-ms-continuationtoken': page.continuationToken } : {};
    return { body: page, headers };
  },
});

export const notificationsMarkRead = endpoint({
  name: 'notifications-mark-read',
  route: '{organization}/_apis/notifications/{id}',
  location: { id: '204381c6-9eea-4b57-a815-4f99723ac2a2', area: 'notifications', resource: 'notifications' },
  methods: ['PATCH', 'POST'],
  summary: 'Marks one of the caller\'s notifications read ({"isRead": true}) or unread.',
  tags: ['Notifications'],
  apiVersions: API_VERSIONS.notifications,
  access: { ...access, users: { scopes: USER_SCOPES.notificationWrite } },
  params: z.object({ organization: z.string(), id: z.guid() }),
  body: markReadSchema,
  responses: {
    200: { description: 'The notification.', schema: inboxNotificationSchema },
    404: { description: "notificationNotFound: not one of the caller's notifications." },
  },
  handler: async (input) => ({ body: await markRead(input, input.params.id, input.body.isRead) }),
});
