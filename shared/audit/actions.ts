import type { AuditEvent } from './events.js';

/**
 * The catalogue of audit actions Gatehouse emits: area, category and the template that renders an
 * entry's `details`. `{Key}` is replaced by `data.Key`; `{ResolveProjectId:Key}` by the project's
 * name (the event's projectName) or the id. Actions missing here still render, generically.
 */
export type AuditCategory = AuditEvent['category'];

export interface AuditActionDefinition {
  readonly actionId: string;
  readonly area: string;
  readonly category: AuditCategory;
  readonly details: string;
}

const token = (actionId: string, category: AuditCategory, details: string): AuditActionDefinition => ({
  actionId: `Token.${actionId}`,
  area: 'Token',
  category,
  details,
});

export const AUDIT_ACTIONS: readonly AuditActionDefinition[] = [
  token('PatCreateEvent', 'create', 'Personal Access Token "{DisplayName}" was created.'),
  token('PatUpdateEvent', 'modify', 'Personal Access Token "{DisplayName}" was updated.'),
  token('PatRevokeEvent', 'remove', 'Personal Access Token "{DisplayName}" was revoked.'),
  token('PatSystemRevokeEvent', 'remove', 'Personal Access Token "{DisplayName}" of user "{OwnerName}" was revoked by the system.'),
  token('PatExpiredEvent', 'modify', 'Personal Access Token "{DisplayName}" expired.'),
  token('PatPublicDiscoveryEvent', 'access', 'Personal Access Token "{DisplayName}" of user "{OwnerName}" was found in a public repository.'),
  token('PatRotateEvent', 'modify', 'Personal Access Token "{DisplayName}" was regenerated.'),
  token('PatUsedFromNewIpEvent', 'access', 'Personal Access Token "{DisplayName}" was used from a new IP address {IpAddress}.'),
  token('PolicyUpdateEvent', 'modify', 'Token policies were changed: {ChangedPolicies} (revision {Revision}).'),
  token('TenantPolicyUpdateEvent', 'modify', 'Tenant token policies were changed: {ChangedPolicies} (revision {Revision}).'),
  token('PatOrganizationRevokeEvent', 'remove', 'Personal Access Token "{DisplayName}" of user "{OwnerName}" can no longer be used in this organization.'),
  token('SshCreateEvent', 'create', 'SSH key "{DisplayName}" was created.'),
  token('SshUpdateEvent', 'modify', 'SSH key "{DisplayName}" was updated.'),
  token('SshRevokeEvent', 'remove', 'SSH key "{DisplayName}" was revoked.'),
  token('SshRemoveEvent', 'remove', 'SSH key "{DisplayName}" was removed.'),
  token('SshExpireEvent', 'modify', 'SSH key "{DisplayName}" expired.'),
  {
    actionId: 'CheckSuite.Completed',
    area: 'Checks',
    category: 'execute',
    details:
      'Checks on stage {StageName} of run #{RunName} of pipeline {PipelineName} in Project {ResolveProjectId:ProjectId} have been {CheckSuiteStatus}',
  },
  { actionId: 'AuditLog.AccessLog', area: 'Auditing', category: 'access', details: 'Accessed the audit log' },
  { actionId: 'AuditLog.ReaderGranted', area: 'Auditing', category: 'modify', details: 'Granted audit log read access to {UserDisplayName}.' },
  { actionId: 'AuditLog.ReaderRevoked', area: 'Auditing', category: 'remove', details: 'Removed audit log read access of {UserDisplayName}.' },
  {
    actionId: 'AuditLog.RetentionUpdated',
    area: 'Auditing',
    category: 'modify',
    details: 'Audit log retention was changed from {OldRetentionDays} to {NewRetentionDays} days, in force from {EffectiveFrom}.',
  },
  token('RevocationRuleCreateEvent', 'create', 'A revocation rule for tokens with scopes {Scopes} created before {CreatedBefore} was created.'),
  { actionId: 'Pipelines.FreeGrantRequested', area: 'Pipelines', category: 'create', details: '{RequesterName} requested a free pipeline grant for {Projects}.' },
  { actionId: 'Pipelines.FreeGrantApproved', area: 'Pipelines', category: 'modify', details: 'The free pipeline grant request {RequestId} was approved.' },
  { actionId: 'Pipelines.FreeGrantRejected', area: 'Pipelines', category: 'modify', details: 'The free pipeline grant request {RequestId} was rejected.' },
  { actionId: 'Pipelines.FreeGrantManualReview', area: 'Pipelines', category: 'modify', details: 'The free pipeline grant request {RequestId} was sent to manual review.' },
  { actionId: 'Pipelines.FreeGrantRevoked', area: 'Pipelines', category: 'remove', details: 'The free pipeline grant {RequestId} was revoked.' },
  {
    actionId: 'Organization.SettingsUpdateEvent',
    area: 'Organization',
    category: 'modify',
    details: 'Organization setting {setting} was changed from {previousValue} to {newValue}.',
  },
  { actionId: 'Organization.Create', area: 'Organization', category: 'create', details: 'Organization {OrganizationName} was created.' },
  {
    actionId: 'Organization.NotificationSettingsUpdateEvent',
    area: 'Organization',
    category: 'modify',
    details: 'The notification settings of the organization were changed.',
  },
  {
    actionId: 'Group.UpdateGroupMembership',
    area: 'Group',
    category: 'modify',
    details: 'Membership of {MemberDisplayName} was changed ({Change}): groups {PreviousGroups} → {Groups}.',
  },
  { actionId: 'Group.InviteGuest', area: 'Group', category: 'create', details: '{MemberDisplayName} of another tenant was invited to the organization.' },
  ...(['Org', 'Project'] as const).flatMap((scope) => [
    { actionId: `Artifacts.Feed.${scope}.Create`, area: 'Artifacts', category: 'create' as const, details: 'Feed {FeedName} was created.' },
    { actionId: `Artifacts.Feed.${scope}.Modify`, area: 'Artifacts', category: 'modify' as const, details: 'Feed {FeedName} was changed: {ChangedFields}.' },
  ]),
  { actionId: 'Project.CreateCompleted', area: 'Project', category: 'create', details: 'Project {ProjectName} was created.' },
  { actionId: 'Project.UpdateCompleted', area: 'Project', category: 'modify', details: 'Project {ProjectName} was updated.' },
  {
    actionId: 'Packaging.UpstreamBehaviorUpdateEvent',
    area: 'Packaging',
    category: 'modify',
    details: 'Upstream behavior of {Protocol} package {PackageName} in feed {FeedName} was changed from {PreviousBehavior} to {NewBehavior}.',
  },
];

const BY_ID = new Map(AUDIT_ACTIONS.map((action) => [action.actionId.toLowerCase(), action]));

export function findAction(actionId: string): AuditActionDefinition | undefined {
  return BY_ID.get(actionId.toLowerCase());
}

export const CATEGORY_DISPLAY_NAMES: Readonly<Record<AuditCategory, string>> = {
  unknown: 'Unknown',
  create: 'Create',
  modify: 'Modify',
  remove: 'Remove',
  access: 'Access',
  execute: 'Execute',
};

const MAX_VALUE_CHARS = 256;

function renderValue(value: unknown): string {
  if (value === undefined || value === null) return '';
  const scalar = (item: unknown) => typeof item === 'string' || typeof item === 'number' || typeof item === 'boolean';
  const text = scalar(value)
    ? String(value)
    : Array.isArray(value) && value.every(scalar)
      ? value.join(', ')
      : JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${text.slice(0, MAX_VALUE_CHARS - 1)}…` : text;
}

/** Renders an entry's details; unknown actions get "<actionId> (<area>)" plus a short data summary. */
export function renderDetails(
  entry: { actionId: string; area: string; projectName?: string | undefined; projectId?: string | undefined },
  data: Readonly<Record<string, unknown>>,
): string {
  const action = findAction(entry.actionId);
  if (!action) {
    const keys = Object.keys(data).slice(0, 5);
    const summary = keys.map((key) => `${key}: ${renderValue(data[key])}`).join(', ');
    return `${entry.actionId} (${entry.area})${summary ? `: ${summary}` : ''}`;
  }
  return action.details.replace(/\{(?:(ResolveProjectId):)?([A-Za-z][A-Za-z0-9]*)\}/g, (_match, resolve: string | undefined, key: string) => {
    if (resolve) {
      const id = renderValue(data[key] ?? entry.projectId);
      return entry.projectName && (!id || id.toLowerCase() === entry.projectId?.toLowerCase()) ? entry.projectName : id;
    }
    return renderValue(Object.hasOwn(data, key) ? data[key] : undefined);
  });
}
