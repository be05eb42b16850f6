import type { DelegatedScopes } from '../http/endpoint.js';

/**
 * The delegated scopes user tokens need, per kind of route. Azure DevOps' own scopes wherever it has
 * one for the same kind of operation (the route table in docs/api.md lists the choice for each
 * route); a higher scope of a family includes the lower ones (`vso.project_manage` includes `vso.project`).
 */
export const USER_SCOPES = {
  /** Listing one's organizations. */
  profile: ['vso.profile'],
  /** Creating an organization. */
  profileWrite: ['vso.profile_write'],
  /** Projects and the organization overview. */
  project: ['vso.project'],
  projectWrite: ['vso.project_write'],
  projectManage: ['vso.project_manage'],
  /** Organization settings. */
  settings: ['vso.settings'],
  settingsWrite: ['vso.settings_write'],
  /** Members (user entitlements) and invitations. */
  members: ['vso.memberentitlementmanagement'],
  membersWrite: ['vso.memberentitlementmanagement_write'],
  identity: ['vso.identity'],
  /** Token policies, token admin, revocation rules, tenant policies. */
  tokenAdministration: ['vso.tokenadministration'],
  auditLog: ['vso.auditlog'],
  /** Who may read the audit log, and its retention. */
  auditManage: ['vso.auditstreams_manage'],
  notification: ['vso.notification'],
  notificationWrite: ['vso.notification_write'],
  notificationManage: ['vso.notification_manage'],
  /** Pipeline capacity and free grant requests. */
  build: ['vso.build'],
  buildExecute: ['vso.build_execute'],
  pats: ['vso.pats'],
  patsManage: ['vso.pats_manage'],
} as const satisfies Record<string, DelegatedScopes>;
