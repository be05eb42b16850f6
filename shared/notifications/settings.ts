import { randomBytes } from 'node:crypto';
import { odata, type TableEntityResult } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import type { OrganizationScope } from '../request-scope.js';
import { organizationEvent, type AuditContext } from '../audit/context.js';
import { commitWithEvents } from '../audit/outbox.js';
import type { Organization } from '../directory/repository.js';
import { AppError, badRequest } from '../http/errors.js';
import { checkDestination, OutboundRefused } from '../http/outbound.js';
import { changeEntity } from '../storage/conditional.js';
import { readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import { seal, sealedFromColumns, unseal, type SealedStore } from '../secrets/sealing.js';

/**
 * Per-organization notification settings, one row (`notificationsettings`, PK = organization id,
 * RK = `settings`): the expiry reminder ladder and the optional webhook. The webhook secret is stored
 * sealed (shared/tokens/sealing.ts) and is never returned by reads or written to logs.
 */

export const DEFAULT_LADDER: readonly number[] = [30, 7, 1];
export const MAX_RUNGS = 10;
export const MAX_RUNG_DAYS = 365;
export const LADDER_ERROR = 'invalidNotificationLadder';
export const WEBHOOK_URL_ERROR = 'invalidWebhookUrl';

/** The ladder as given: whole days before expiry, each at least 1, distinct, at most ten. */
export const ladderSchema = z
  .array(
    z
      .number()
      .int('rungs are whole days')
      .min(1, 'rungs are at least 1 day (negative and zero are refused)')
      .max(MAX_RUNG_DAYS, `rungs are at most ${MAX_RUNG_DAYS} days`),
  )
  .max(MAX_RUNGS, `at most ${MAX_RUNGS} rungs`)
  .refine((rungs) => new Set(rungs).size === rungs.length, 'rungs must not repeat')
  .transform((rungs) => [...rungs].sort((a, b) => b - a));

export const notificationSettingsUpdateSchema = z
  .object({ expiryNotificationDays: ladderSchema.describe('Days before expiry at which owners are reminded (default 30, 7, 1).') })
  .strict();

export const notificationSettingsViewSchema = z.object({
  expiryNotificationDays: z.array(z.number()),
  webhook: z.object({ url: z.string(), configuredAt: z.string() }).nullable(),
  lastModifiedDate: z.string().nullable(),
  lastModifiedBy: z.string().nullable(),
});
export type NotificationSettingsView = z.infer<typeof notificationSettingsViewSchema>;

export const webhookUpdateSchema = z
  .object({
    url: z.string().max(2048),
    secret: z.string().min(16, 'secrets have at least 16 characters').max(256).optional().describe('HMAC key; generated (and returned once) when absent.'),
  })
  .strict();

export const webhookViewSchema = z.object({
  url: z.string(),
  configuredAt: z.string(),
  /** Only in the answer to a PUT that generated the secret. */
  secret: z.string().optional(),
  signatureHeader: z.string(),
});

export interface Webhook {
  url: string;
  /** The signing secret, sealed. */
  sealedSecret: string;
  configuredAt: string;
}

export interface NotificationSettings {
  ladder: number[];
  webhook: Webhook | undefined;
  lastModifiedDate: string | null;
  lastModifiedBy: string | null;
  etag: string | undefined;
}

const ROW = 'settings';

export async function readNotificationSettings(app: AppContext, organizationId: string): Promise<NotificationSettings> {
  return settingsOf(await readEntity<Record<string, unknown>>(app.storage.table(TABLES.notificationSettings), organizationId, ROW));
}

function settingsOf(row: TableEntityResult<Record<string, unknown>> | undefined): NotificationSettings {
  if (!row) return { ladder: [...DEFAULT_LADDER], webhook: undefined, lastModifiedDate: null, lastModifiedBy: null, etag: undefined };
  const str = (value: unknown) => (typeof value === 'string' ? value : '');
  let ladder = [...DEFAULT_LADDER];
  const parsed = ladderSchema.safeParse(JSON.parse(str(row.ladder) || 'null'));
  if (parsed.success) ladder = parsed.data;
  const url = str(row.webhookUrl);
  return {
    ladder,
    webhook: url
      ? { url, sealedSecret: sealedFromColumns(str(row.webhookKeyVersion), str(row.webhookSecret)), configuredAt: str(row.webhookConfiguredAt) }
      : undefined,
    lastModifiedDate: str(row.lastModifiedDate) || null,
    lastModifiedBy: str(row.lastModifiedBy) || null,
    etag: row.etag,
  };
}

export function settingsView(settings: NotificationSettings): NotificationSettingsView {
  return {
    expiryNotificationDays: settings.ladder,
    webhook: settings.webhook ? { url: settings.webhook.url, configuredAt: settings.webhook.configuredAt } : null,
    lastModifiedDate: settings.lastModifiedDate,
    lastModifiedBy: settings.lastModifiedBy,
  };
}

function entityOf(organizationId: string, settings: NotificationSettings) {
  return {
    partitionKey: organizationId,
    rowKey: ROW,
    ladder: JSON.stringify(settings.ladder),
    webhookUrl: settings.webhook?.url ?? '',
    webhookSecret: settings.webhook?.sealedSecret ?? '',
    webhookConfiguredAt: settings.webhook?.configuredAt ?? '',
    lastModifiedDate: settings.lastModifiedDate ?? '',
    lastModifiedBy: settings.lastModifiedBy ?? '',
  };
}

/** Read-modify-write of the settings row with its audit event; a lost race is retried. */
async function saveSettings(
  app: AppContext,
  organization: Organization,
  context: AuditContext,
  change: (current: NotificationSettings) => { next: NotificationSettings; data: Record<string, unknown> },
): Promise<{ before: NotificationSettings; after: NotificationSettings }> {
  return changeEntity(app.storage.table(TABLES.notificationSettings), organization.id, ROW, (row: TableEntityResult<Record<string, unknown>> | undefined) => {
    const current = settingsOf(row);
    const { next, data } = change(current);
    const stamped = { ...next, lastModifiedDate: app.clock.now().toISOString(), lastModifiedBy: context.actor.id };
    const event = organizationEvent(app, context, organization, {
      actionId: 'Organization.NotificationSettingsUpdateEvent',
      data,
    });
    return {
      result: { before: current, after: stamped },
      write: entityOf(organization.id, stamped),
      commit: (actions) => commitWithEvents(app, TABLES.notificationSettings, actions, [event]),
    };
  });
}

/**
 * Replaces the organization's reminder ladder, audited. The reminder walk keeps a registry of the rungs
 * in use: change the ladder through updateLadder (shared/lifecycle/rungs.ts), which keeps it in step.
 */
export function saveLadder(app: AppContext, organization: Organization, context: AuditContext, ladder: number[]) {
  return saveSettings(app, organization, context, (settings) => ({
    next: { ...settings, ladder },
    data: { setting: 'expiryNotificationDays', previousValue: settings.ladder, newValue: ladder },
  }));
}

// ---- webhook --------------------------------------------------------------------------------------

const LOCAL_HOSTS = new Set(['localhost', '127.0.0.1', '[::1]']);

/** https only; http only for localhost when ALLOW_HTTP_WEBHOOKS_FOR_LOCALHOST is on (development). */
export function checkWebhookUrl(app: AppContext, value: string): URL {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw badRequest(WEBHOOK_URL_ERROR, 'The webhook URL is not a valid absolute URL.');
  }
  if (url.username || url.password) throw badRequest(WEBHOOK_URL_ERROR, 'The webhook URL must not contain credentials; use the signing secret.');
  if (url.hash) throw badRequest(WEBHOOK_URL_ERROR, 'The webhook URL must not contain a fragment.');
  if (url.protocol === 'https:') return url;
  if (url.protocol === 'http:' && LOCAL_HOSTS.has(url.hostname) && app.config.lifecycle.allowHttpWebhooksForLocalhost) return url;
  throw badRequest(
    WEBHOOK_URL_ERROR,
    app.config.lifecycle.allowHttpWebhooksForLocalhost
      ? 'The webhook URL must use https (http is allowed only for localhost in development).'
      : 'The webhook URL must use https.',
  );
}

/**
 * Refuses a webhook whose host is (or now resolves to) an address the outbound client would refuse.
 * A name that does not resolve yet is accepted: every delivery checks again.
 */
async function refusePrivateWebhook(app: AppContext, url: URL): Promise<void> {
  try {
    await checkDestination(app, url);
  } catch (error) {
    if (error instanceof OutboundRefused) throw badRequest(WEBHOOK_URL_ERROR, `The webhook URL must name a public address: ${error.reason}.`);
  }
}

const sealWebhookSecret = (app: AppContext, secret: string) => seal(app.config.peppers, 'webhook-secret', secret);

/** The webhook's signing secret; a 500 when the pepper version it is sealed under is no longer configured. */
export function openWebhookSecret(app: AppContext, webhook: Pick<Webhook, 'sealedSecret'>): string {
  const secret = unseal(app.config.peppers, 'webhook-secret', webhook.sealedSecret);
  if (secret === undefined) throw new AppError(500, 'webhookSecretUnavailable', 'The webhook secret was sealed under a key that is no longer configured.');
  return secret;
}

export const SIGNATURE_HEADER = 'X-Gatehouse-Signature';

export async function configureWebhook(scope: OrganizationScope, body: z.infer<typeof webhookUpdateSchema>): Promise<z.infer<typeof webhookViewSchema>> {
  const { app, audit: context } = scope;
  const organization = scope.organization.organization;
  const url = checkWebhookUrl(app, body.url).toString();
  await refusePrivateWebhook(app, new URL(url));
  const secret = body.secret ?? randomBytes(32).toString('base64url');
  const generated = body.secret === undefined ? secret : undefined;
  const sealedSecret = sealWebhookSecret(app, secret);
  const configuredAt = app.clock.now().toISOString();
  await saveSettings(app, organization, context, (settings) => ({
    next: { ...settings, webhook: { url, sealedSecret, configuredAt } },
    // The secret never goes into the audit trail.
    data: { setting: 'webhook', previousValue: settings.webhook?.url ?? null, newValue: url, SecretGenerated: generated !== undefined },
  }));
  return { url, configuredAt, ...(generated ? { secret: generated } : {}), signatureHeader: SIGNATURE_HEADER };
}

export async function removeWebhook(scope: OrganizationScope): Promise<void> {
  const { app, audit: context } = scope;
  const organization = scope.organization.organization;
  const current = await readNotificationSettings(app, organization.id);
  if (!current.webhook) return;
  await saveSettings(app, organization, context, (settings) => ({
    next: { ...settings, webhook: undefined },
    data: { setting: 'webhook', previousValue: settings.webhook?.url ?? null, newValue: null },
  }));
}

/** Webhook secrets for the re-seal after a pepper rotation: every configured webhook's, rewritten only if its row is unchanged. */
export const webhookSecretStore: SealedStore = {
  name: 'webhookSecrets',
  purpose: 'webhook-secret',
  async *list(app) {
    const table = app.storage.table(TABLES.notificationSettings);
    for await (const row of table.listEntities({ queryOptions: { filter: odata`RowKey eq ${ROW} and webhookUrl ne ''` } })) {
      const settings = settingsOf(row);
      const { webhook, etag } = settings;
      if (!webhook || !etag) continue;
      yield {
        sealed: webhook.sealedSecret,
        context: '',
        replace: (resealed) =>
          table.updateEntity(entityOf(String(row.partitionKey), { ...settings, webhook: { ...webhook, sealedSecret: resealed } }), 'Replace', { etag }),
      };
    }
  },
};
