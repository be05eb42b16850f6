import type { AuditEvent } from './events.js';
import { truncate } from '../text.js';

/**
 * The catalogue of audit actions Gatehouse emits: the one table from which every event takes its area
 * and category (producers name only the action id, see `organizationEvent` in context.ts), and the
 * template that renders an entry's `details`. `{Key}` is replaced by `data.Key`;
 * `{ResolveProjectId:Key}` by the project's name (the event's projectName) or the id.
 *
 * `origin` says whose id it is: `azureDevOps` (Azure DevOps' documented list of auditing events),
 * `azureDevOpsServer` (defined in Azure DevOps Server's code, absent from the public list) or
 * `gatehouse` (Gatehouse's own, for changes Azure DevOps does not audit or does not have; the audit
 * reference documents each of them).
 */
export type AuditCategory = AuditEvent['category'];
export type AuditActionOrigin = 'azureDevOps' | 'azureDevOpsServer' | 'gatehouse';

interface ActionShape {
  readonly area: string;
  readonly category: AuditCategory;
  readonly origin: AuditActionOrigin;
  readonly details: string;
}

export const AUDIT_ACTIONS = {
  'Token.PatCreateEvent': { area: 'Token', category: 'create', origin: 'azureDevOps', details: 'Personal Access Token "{DisplayName}" was created.' },
  'Token.PatUpdateEvent': { area: 'Token', category: 'modify', origin: 'azureDevOps', details: 'Personal Access Token "{DisplayName}" was updated.' },
  'Token.PatRevokeEvent': { area: 'Token', category: 'remove', origin: 'azureDevOps', details: 'Personal Access Token "{DisplayName}" was revoked.' },
  'Token.PatSystemRevokeEvent': {
    area: 'Token',
    category: 'remove',
    origin: 'azureDevOps',
    details: 'Personal Access Token "{DisplayName}" of user "{OwnerName}" was revoked by the system.',
  },
  'Token.PatExpiredEvent': { area: 'Token', category: 'modify', origin: 'azureDevOps', details: 'Personal Access Token "{DisplayName}" expired.' },
  'Token.PatPublicDiscoveryEvent': {
    area: 'Token',
    category: 'access',
    origin: 'azureDevOps',
    details: 'Personal Access Token "{DisplayName}" of user "{OwnerName}" was found in a public repository.',
  },
  'Token.PatRotateEvent': { area: 'Token', category: 'modify', origin: 'gatehouse', details: 'Personal Access Token "{DisplayName}" was regenerated.' },
  'Token.PatUsedFromNewIpEvent': {
    area: 'Token',
    category: 'access',
    origin: 'gatehouse',
    details: 'Personal Access Token "{DisplayName}" was used from a new IP address {IpAddress}.',
  },
  'Token.PolicyUpdateEvent': {
    area: 'Token',
    category: 'modify',
    origin: 'gatehouse',
    details: 'Token policies were changed: {ChangedPolicies} (revision {Revision}).',
  },
  'Token.TenantPolicyUpdateEvent': {
    area: 'Token',
    category: 'modify',
    origin: 'gatehouse',
    details: 'Tenant token policies were changed: {ChangedPolicies} (revision {Revision}).',
  },
  'Token.PatOrganizationRevokeEvent': {
    area: 'Token',
    category: 'remove',
    origin: 'gatehouse',
    details: 'Personal Access Token "{DisplayName}" of user "{OwnerName}" can no longer be used in this organization.',
  },
  'Token.RevocationRuleCreateEvent': {
    area: 'Token',
    category: 'create',
    origin: 'gatehouse',
    details: 'A revocation rule for tokens with scopes {Scopes} created before {CreatedBefore} was created.',
  },
  'Token.SshCreateEvent': { area: 'Token', category: 'create', origin: 'azureDevOps', details: 'SSH key "{DisplayName}" was created.' },
  'Token.SshUpdateEvent': { area: 'Token', category: 'modify', origin: 'azureDevOps', details: 'SSH key "{DisplayName}" was updated.' },
  'Token.SshRevokeEvent': { area: 'Token', category: 'remove', origin: 'azureDevOps', details: 'SSH key "{DisplayName}" was revoked.' },
  'Token.SshRemoveEvent': { area: 'Token', category: 'remove', origin: 'azureDevOpsServer', details: 'SSH key "{DisplayName}" was removed.' },
  'Token.SshExpireEvent': { area: 'Token', category: 'modify', origin: 'azureDevOpsServer', details: 'SSH key "{DisplayName}" expired.' },
  'CheckSuite.Completed': {
    area: 'Checks',
    category: 'execute',
    origin: 'azureDevOps',
    details: 'Checks on stage {StageName} of run #{RunName} of pipeline {PipelineName} in Project {ResolveProjectId:ProjectId} have been {CheckSuiteStatus}',
  },
  'AuditLog.AccessLog': { area: 'Auditing', category: 'access', origin: 'azureDevOps', details: 'Accessed the audit log' },
  'AuditLog.ReaderGranted': { area: 'Auditing', category: 'modify', origin: 'gatehouse', details: 'Granted audit log read access to {UserDisplayName}.' },
  'AuditLog.ReaderRevoked': { area: 'Auditing', category: 'remove', origin: 'gatehouse', details: 'Removed audit log read access of {UserDisplayName}.' },
  'AuditLog.RetentionUpdated': {
    area: 'Auditing',
    category: 'modify',
    origin: 'gatehouse',
    details: 'Audit log retention was changed from {OldRetentionDays} to {NewRetentionDays} days, in force from {EffectiveFrom}.',
  },
  'Pipelines.FreeGrantRequested': {
    area: 'Pipelines',
    category: 'create',
    origin: 'gatehouse',
    details: '{RequesterName} requested a free pipeline grant for {Projects}.',
  },
  'Pipelines.FreeGrantApproved': {
    area: 'Pipelines',
    category: 'modify',
    origin: 'gatehouse',
    details: 'The free pipeline grant request {RequestId} was approved.',
  },
  'Pipelines.FreeGrantRejected': {
    area: 'Pipelines',
    category: 'modify',
    origin: 'gatehouse',
    details: 'The free pipeline grant request {RequestId} was rejected.',
  },
  'Pipelines.FreeGrantManualReview': {
    area: 'Pipelines',
    category: 'modify',
    origin: 'gatehouse',
    details: 'The free pipeline grant request {RequestId} was sent to manual review.',
  },
  'Pipelines.FreeGrantRevoked': { area: 'Pipelines', category: 'remove', origin: 'gatehouse', details: 'The free pipeline grant {RequestId} was revoked.' },
  'Organization.Create': { area: 'Organization', category: 'create', origin: 'azureDevOps', details: 'Organization {OrganizationName} was created.' },
  'Organization.SettingsUpdateEvent': {
    area: 'Organization',
    category: 'modify',
    origin: 'gatehouse',
    details: 'Organization setting {setting} was changed from {previousValue} to {newValue}.',
  },
  'Organization.NotificationSettingsUpdateEvent': {
    area: 'Organization',
    category: 'modify',
    origin: 'gatehouse',
    details: 'The notification settings of the organization were changed.',
  },
  'Group.UpdateGroupMembership': {
    area: 'Group',
    category: 'modify',
    origin: 'gatehouse',
    details: 'Membership of {MemberDisplayName} was changed ({Change}): groups {PreviousGroups} → {Groups}.',
  },
  'Group.InviteGuest': {
    area: 'Group',
    category: 'create',
    origin: 'gatehouse',
    details: '{MemberDisplayName} of another tenant was invited to the organization.',
  },
  'Project.CreateCompleted': { area: 'Project', category: 'create', origin: 'azureDevOps', details: 'Project {ProjectName} was created.' },
  'Project.UpdateCompleted': { area: 'Project', category: 'modify', origin: 'gatehouse', details: 'Project {ProjectName} was updated.' },
  'Artifacts.Feed.Org.Create': { area: 'Artifacts', category: 'create', origin: 'azureDevOps', details: 'Feed {FeedName} was created.' },
  'Artifacts.Feed.Org.Modify': { area: 'Artifacts', category: 'modify', origin: 'azureDevOps', details: 'Feed {FeedName} was changed: {ChangedFields}.' },
  'Artifacts.Feed.Project.Create': { area: 'Artifacts', category: 'create', origin: 'azureDevOps', details: 'Feed {FeedName} was created.' },
  'Artifacts.Feed.Project.Modify': { area: 'Artifacts', category: 'modify', origin: 'azureDevOps', details: 'Feed {FeedName} was changed: {ChangedFields}.' },
  'Artifacts.Package.Publish': {
    area: 'Artifacts',
    category: 'create',
    origin: 'gatehouse',
    details: 'Version {PackageVersion} of {Protocol} package {PackageName} was published to feed {FeedName}.',
  },
  'Artifacts.Package.DistTag.Add': {
    area: 'Artifacts',
    category: 'create',
    origin: 'gatehouse',
    details: 'Dist-tag {Tag} of {Protocol} package {PackageName} in feed {FeedName} was added at version {PackageVersion}.',
  },
  'Artifacts.Package.DistTag.Move': {
    area: 'Artifacts',
    category: 'modify',
    origin: 'gatehouse',
    details: 'Dist-tag {Tag} of {Protocol} package {PackageName} in feed {FeedName} was moved from version {PreviousVersion} to {PackageVersion}.',
  },
  'Artifacts.Package.DistTag.Remove': {
    area: 'Artifacts',
    category: 'remove',
    origin: 'gatehouse',
    details: 'Dist-tag {Tag} of {Protocol} package {PackageName} in feed {FeedName} was removed from version {PreviousVersion}.',
  },
  'Packaging.UpstreamBehaviorUpdateEvent': {
    area: 'Packaging',
    category: 'modify',
    origin: 'gatehouse',
    details: 'Upstream behavior of {Protocol} package {PackageName} in feed {FeedName} was changed from {PreviousBehavior} to {NewBehavior}.',
  },
} as const satisfies Record<string, ActionShape>;

/** Every action Gatehouse can emit; naming any other id where an event is built is a compile error. */
export type AuditActionId = keyof typeof AUDIT_ACTIONS;

/** The `data` keys a template references: `{Key}` must be there; `{Resolver:Key}` falls back when absent. */
type RequiredKeys<Template extends string> = Template extends `${string}{${infer Inner}}${infer Rest}`
  ? (Inner extends `${string}:${string}` ? never : Inner) | RequiredKeys<Rest>
  : never;

/** The data of an event of `Id`: at least every key its details template names, plus any others. */
export type AuditData<Id extends AuditActionId> = { readonly [Key in RequiredKeys<(typeof AUDIT_ACTIONS)[Id]['details']>]: unknown } & Readonly<
  Record<string, unknown>
>;

export interface AuditActionDefinition extends ActionShape {
  readonly actionId: AuditActionId;
}

/** The catalogue as a list, in the order above (the actions route answers it). */
export const AUDIT_ACTION_LIST: readonly AuditActionDefinition[] = (Object.keys(AUDIT_ACTIONS) as AuditActionId[]).map((actionId) => ({
  actionId,
  ...AUDIT_ACTIONS[actionId],
}));

const BY_ID = new Map(AUDIT_ACTION_LIST.map((action) => [action.actionId.toLowerCase(), action]));

/** The catalogue entry of an id as found in stored rows or queries (any case); undefined when unknown. */
export function findAction(actionId: string): AuditActionDefinition | undefined {
  return BY_ID.get(actionId.toLowerCase());
}

/** The placeholders of a details template: `{Key}` or `{Resolver:Key}`. */
export const TEMPLATE_PLACEHOLDER = /\{(?:([A-Za-z]+):)?([A-Za-z][A-Za-z0-9]*)\}/g;
/** The resolvers a template may use. */
export const TEMPLATE_RESOLVERS = ['ResolveProjectId'] as const;

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
  const text = scalar(value) ? String(value) : Array.isArray(value) && value.every(scalar) ? value.join(', ') : JSON.stringify(value);
  return text.length > MAX_VALUE_CHARS ? `${truncate(text, MAX_VALUE_CHARS - 1)}…` : text;
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
  return action.details.replace(TEMPLATE_PLACEHOLDER, (_match, resolve: string | undefined, key: string) => {
    if (resolve) {
      const id = renderValue(data[key] ?? entry.projectId);
      return entry.projectName && (!id || id.toLowerCase() === entry.projectId?.toLowerCase()) ? entry.projectName : id;
    }
    return renderValue(Object.hasOwn(data, key) ? data[key] : undefined);
  });
}
