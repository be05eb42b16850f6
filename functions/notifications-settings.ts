import { USER_SCOPES } from '../shared/auth/scopes.js';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import {
  configureWebhook,
  LADDER_ERROR,
  notificationSettingsUpdateSchema,
  notificationSettingsViewSchema,
  readNotificationSettings,
  removeWebhook,
  settingsView,
  WEBHOOK_URL_ERROR,
  webhookUpdateSchema,
  webhookViewSchema,
} from '../shared/notifications/settings.js';
import { updateLadder } from '../shared/lifecycle/rungs.js';

const admin = { users: { scopes: USER_SCOPES.notificationManage }, organization: 'administrator' } as const;

export const notificationSettingsGet = endpoint({
  name: 'notification-settings-get',
  route: '{organization}/_apis/notifications/settings',
  location: { id: '96154753-09c4-45d2-8224-49427a584b55', area: 'notifications', resource: 'settings' },
  methods: ['GET'],
  summary:
    "The organization's expiry reminder ladder and webhook (never its secret); Project Collection Administrators only, since a webhook URL is itself a credential.",
  tags: ['Notifications'],
  apiVersions: API_VERSIONS.notifications,
  access: admin,
  params: organizationParam,
  responses: { 200: { description: 'The settings.', schema: notificationSettingsViewSchema } },
  handler: async ({ app, organization }) => ({ body: settingsView(await readNotificationSettings(app, organization.organization.id)) }),
});

export const notificationSettingsUpdate = endpoint({
  name: 'notification-settings-update',
  route: '{organization}/_apis/notifications/settings',
  location: { id: '96154753-09c4-45d2-8224-49427a584b55', area: 'notifications', resource: 'settings' },
  methods: ['PUT'],
  summary: 'Sets the days before expiry at which owners of tokens and keys are reminded (at most 10 distinct whole days, 1–365).',
  tags: ['Notifications'],
  apiVersions: API_VERSIONS.notifications,
  access: admin,
  params: organizationParam,
  body: notificationSettingsUpdateSchema,
  validationCode: (where, issue) => (where === 'body' && issue.path[0] === 'expiryNotificationDays' ? LADDER_ERROR : undefined),
  responses: {
    200: { description: 'The settings.', schema: notificationSettingsViewSchema },
    400: { description: `${LADDER_ERROR}: negative, zero, repeated, fractional or more than 10 rungs.` },
  },
  handler: async (input) => ({ body: settingsView(await updateLadder(input, input.body.expiryNotificationDays)) }),
});

export const notificationWebhookUpdate = endpoint({
  name: 'notification-webhook-update',
  route: '{organization}/_apis/notifications/webhook',
  location: { id: 'f759a288-dff9-48f3-b61f-990a715384d6', area: 'notifications', resource: 'webhook' },
  methods: ['PUT'],
  summary: 'Configures the webhook that receives every notification of the organization, signed with HMAC-SHA256.',
  tags: ['Notifications'],
  apiVersions: API_VERSIONS.notifications,
  access: admin,
  params: organizationParam,
  body: webhookUpdateSchema,
  responses: {
    200: { description: 'The webhook; `secret` only when it was generated (shown once).', schema: webhookViewSchema },
    400: { description: `${WEBHOOK_URL_ERROR}: not https (http only for localhost in development), credentials or a fragment in the URL.` },
  },
  handler: async (input) => ({ body: await configureWebhook(input, input.body) }),
});

export const notificationWebhookDelete = endpoint({
  name: 'notification-webhook-delete',
  route: '{organization}/_apis/notifications/webhook',
  location: { id: 'f759a288-dff9-48f3-b61f-990a715384d6', area: 'notifications', resource: 'webhook' },
  methods: ['DELETE'],
  summary: 'Removes the webhook (notifications still reach the inbox).',
  tags: ['Notifications'],
  apiVersions: API_VERSIONS.notifications,
  access: admin,
  params: organizationParam,
  responses: { 204: { description: 'Removed (or there was none).' } },
  handler: async (input) => {
    await removeWebhook(input);
    return { status: 204 };
  },
});
