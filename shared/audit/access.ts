import { odata, type TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import type { OrganizationScope } from '../request-scope.js';
import { AppError, forbidden, notFound } from '../http/errors.js';
import { readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import { organizationEvent } from './context.js';
import { commitWithEvents } from './outbox.js';
import { sendSignedAuditEvent } from './ingestion.js';
import { ACCESS_LOG_ACTION } from './query.js';
import {
  MIN_RETENTION_DAYS,
  RETENTION_SHORTENING_DELAY_DAYS,
  SETTINGS_ROW_KEY,
  auditSettingsTable,
  forgetAuditSettings,
  getAuditSettings,
  type AuditOrganizationSettings,
} from './repository.js';
import { DAY_MS } from '../time.js';

/**
 * Who may read an organization's audit log: Project Collection Administrators, and members the
 * organization grants reading (`r_<user id>` rows in `auditsettings`, managed by administrators);
 * service principals with the Gatehouse.AuditRead app role that are members. Never members of the
 * Project-Scoped Users group, whatever else they hold; never other organizations (404 before this).
 */
export const AUDIT_READ_SCOPE = 'vso.auditlog';
export const AUDIT_READ_APP_ROLE = 'Gatehouse.AuditRead';
export const AUDIT_INGEST_APP_ROLES = ['Gatehouse.Pipelines', 'Gatehouse.AuditIngest'] as const;

const readerRowKey = (userId: string) => `r_${userId.toLowerCase()}`;

export async function assertAuditReader({ app, organization: access, caller }: OrganizationScope): Promise<void> {
  if (access.membership.groups.includes('projectScopedUsers')) {
    throw forbidden('accessDenied', 'Project-Scoped Users cannot read the audit log.');
  }
  if (caller.kind === 'servicePrincipal') {
    if (caller.roles.has(AUDIT_READ_APP_ROLE)) return;
    throw forbidden('accessDenied', `Reading the audit log needs the ${AUDIT_READ_APP_ROLE} app role.`);
  }
  if (access.isAdministrator) return;
  const grant = await readEntity<{ GrantedOn?: string }>(auditSettingsTable(app), access.organization.id, readerRowKey(caller.id));
  // A grant counts only if made during the reader's current membership: removal ends it for good.
  if (!grant || (grant.GrantedOn ?? '') < access.membership.since)
    throw forbidden('accessDenied', 'Reading the audit log needs Project Collection Administrator rights or an audit reader grant.');
}

/** Records the read itself (AuditLog.AccessLog), straight on the audit queue; a failure fails the read. */
export async function recordAuditAccess({ app, organization: access, audit }: OrganizationScope, data: Record<string, unknown>): Promise<void> {
  const event = organizationEvent(app, audit, access.organization, {
    actionId: ACCESS_LOG_ACTION,
    data,
  });
  await sendSignedAuditEvent(app, event);
}

// ---- reader grants --------------------------------------------------------------------------------

export const auditReaderSchema = z.object({
  userId: z.string(),
  displayName: z.string(),
  principalName: z.string(),
  grantedBy: z.string(),
  grantedOn: z.string(),
});
export type AuditReader = z.infer<typeof auditReaderSchema>;

type ReaderRow = {
  partitionKey: string;
  rowKey: string;
  UserId: string;
  DisplayName: string;
  PrincipalName: string;
  GrantedBy: string;
  GrantedOn: string;
};

const toReader = (row: ReaderRow): AuditReader => ({
  userId: row.UserId,
  displayName: row.DisplayName,
  principalName: row.PrincipalName,
  grantedBy: row.GrantedBy,
  grantedOn: row.GrantedOn,
});

export async function listAuditReaders(app: AppContext, organizationId: string): Promise<AuditReader[]> {
  const readers: AuditReader[] = [];
  for await (const row of auditSettingsTable(app).listEntities<ReaderRow>({
    queryOptions: { filter: odata`PartitionKey eq ${organizationId} and RowKey ge ${'r_'} and RowKey lt ${'r`'}` },
  })) {
    readers.push(toReader(row));
  }
  return readers;
}

export async function grantAuditReader(
  { app, caller, organization: access, audit }: OrganizationScope,
  userId: string,
): Promise<{ reader: AuditReader; created: boolean }> {
  const organizationId = access.organization.id;
  const membership = await app.directory.getMembership(organizationId, 'user', userId);
  if (!membership) throw notFound('memberNotFound', `The user ${userId} is not a member of the organization.`);
  if (membership.groups.includes('projectScopedUsers')) {
    throw new AppError(409, 'readerNotEligible', 'Project-Scoped Users cannot be granted audit log reading.');
  }
  const existing = await readEntity<ReaderRow>(auditSettingsTable(app), organizationId, readerRowKey(userId));
  if (existing) return { reader: toReader(existing), created: false };
  const user = await app.directory.getUser(userId);
  const row: ReaderRow = {
    partitionKey: organizationId,
    rowKey: readerRowKey(userId),
    UserId: userId,
    DisplayName: user?.displayName ?? userId,
    PrincipalName: user?.email ?? '',
    GrantedBy: caller.id,
    GrantedOn: app.clock.now().toISOString(),
  };
  const event = organizationEvent(app, audit, access.organization, {
    actionId: 'AuditLog.ReaderGranted',
    data: { UserId: userId, UserDisplayName: row.DisplayName, UserPrincipalName: row.PrincipalName },
  });
  await commitWithEvents(app, TABLES.auditSettings, [['create', row]], [event]);
  return { reader: toReader(row), created: true };
}

export async function revokeAuditReader({ app, organization: access, audit }: OrganizationScope, userId: string): Promise<void> {
  const organizationId = access.organization.id;
  const existing = await readEntity<ReaderRow>(auditSettingsTable(app), organizationId, readerRowKey(userId));
  if (!existing) throw notFound('readerNotFound', `The user ${userId} has no audit reader grant.`);
  const event = organizationEvent(app, audit, access.organization, {
    actionId: 'AuditLog.ReaderRevoked',
    data: { UserId: userId, UserDisplayName: existing.DisplayName, UserPrincipalName: existing.PrincipalName },
  });
  const action: TransactionAction = ['delete', { partitionKey: organizationId, rowKey: existing.rowKey }];
  await commitWithEvents(app, TABLES.auditSettings, [action], [event]);
}

// ---- settings -------------------------------------------------------------------------------------

export const auditSettingsBody = z.object({ retentionDays: z.number().int().min(MIN_RETENTION_DAYS).max(3650) }).strict();

export const auditSettingsSchema = z.object({
  retentionDays: z.number().int().describe('The retention in force now.'),
  isDefault: z.boolean(),
  pendingRetentionDays: z.number().int().optional().describe(`A shorter retention, set less than ${RETENTION_SHORTENING_DELAY_DAYS} days ago.`),
  pendingEffectiveDate: z.string().optional().describe('When the shorter retention applies.'),
});

function settingsView(settings: AuditOrganizationSettings) {
  return {
    retentionDays: settings.retentionDays,
    isDefault: !settings.custom,
    ...(settings.pending ? { pendingRetentionDays: settings.pending.retentionDays, pendingEffectiveDate: settings.pending.effectiveFrom } : {}),
  };
}

export async function readAuditSettings(app: AppContext, organizationId: string) {
  return settingsView(await getAuditSettings(app, organizationId));
}

export async function updateAuditSettings({ app, caller, organization: access, audit }: OrganizationScope, retentionDays: number) {
  const organizationId = access.organization.id;
  const table = auditSettingsTable(app);
  const current = await readEntity<{ RetentionDays?: number }>(table, organizationId, SETTINGS_ROW_KEY);
  const before = await getAuditSettings(app, organizationId);
  if (before.custom && before.retentionDays === retentionDays && !before.pending) return settingsView(before);
  const now = app.clock.now();
  // Lengthening applies at once; shortening only after a delay, so history cannot be erased in one step.
  const shortening = retentionDays < before.retentionDays;
  const effectiveFrom = shortening ? new Date(now.getTime() + RETENTION_SHORTENING_DELAY_DAYS * DAY_MS).toISOString() : now.toISOString();
  const entity = {
    partitionKey: organizationId,
    rowKey: SETTINGS_ROW_KEY,
    ...(shortening ? (before.custom ? { RetentionDays: before.retentionDays } : {}) : { RetentionDays: retentionDays }),
    ...(shortening ? { PendingRetentionDays: retentionDays, PendingFrom: effectiveFrom } : {}),
    UpdatedBy: caller.id,
    UpdatedOn: now.toISOString(),
  };
  const event = organizationEvent(app, audit, access.organization, {
    actionId: 'AuditLog.RetentionUpdated',
    data: { OldRetentionDays: before.retentionDays, NewRetentionDays: retentionDays, EffectiveFrom: effectiveFrom },
  });
  const action: TransactionAction = current ? ['update', entity, 'Replace', { etag: current.etag }] : ['create', entity];
  await commitWithEvents(app, TABLES.auditSettings, [action], [event]);
  forgetAuditSettings(app, organizationId);
  return settingsView(await getAuditSettings(app, organizationId));
}
