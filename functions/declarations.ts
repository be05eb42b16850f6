import type { FunctionDeclaration } from '../shared/runtime/declarations.js';
import { instrumented } from '../shared/telemetry/functions.js';
import { patsCreate } from './pats-create.js';
import { patsGet } from './pats-get.js';
import { patsUpdate } from './pats-update.js';
import { patsRevoke } from './pats-revoke.js';
import { patsRotate } from './pats-rotate.js';
import { patsSelf, patsSelfRotate } from './pats-self.js';
import { connectionDataGet } from './connection-data.js';
import { resourceAreasList, resourceLocationDeclarations } from './resource-locations.js';
import { tokensIntrospect } from './tokens-introspect.js';
import { tokensLeaks } from './tokens-leaks.js';
import { tokenPoliciesGet } from './token-policies-get.js';
import { tokenPoliciesUpdate } from './token-policies-update.js';
import { tokenPoliciesPreview } from './token-policies-preview.js';
import { tokenPoliciesMine } from './token-policies-mine.js';
import { tokenAdminList } from './tokenadmin-list.js';
import { tokenAdminRevocations } from './tokenadmin-revocations.js';
import { tokenAdminRevocationRules } from './tokenadmin-revocation-rules.js';
import { sshKeysCreate } from './sshkeys-create.js';
import { sshKeysGet } from './sshkeys-get.js';
import { sshKeysUpdate } from './sshkeys-update.js';
import { sshKeysDelete } from './sshkeys-delete.js';
import { sshKeysLookup } from './sshkeys-lookup.js';
import { sshKeysChallenge } from './sshkeys-challenge.js';
import { lifecycle } from './lifecycle.js';
import { notificationSender, webhookSender } from './notification-sender.js';
import { notificationsList, notificationsMarkRead } from './notifications-inbox.js';
import { notificationSettingsGet, notificationSettingsUpdate, notificationWebhookDelete, notificationWebhookUpdate } from './notifications-settings.js';
import { patsExpirationsIcs } from './pats-expirations-ics.js';
import { health } from './health.js';
import { openApiFunction } from './openapi.js';
import { notFoundFunction } from './not-found.js';
import { portal, portalOrganizationSettingsPage, portalUserSettingsPage } from './portal.js';
import { pipelineGrantRequestsCreate } from './pipeline-grant-requests-create.js';
import { pipelineGrantRequestsList } from './pipeline-grant-requests-list.js';
import { pipelineGrantRequestsGet } from './pipeline-grant-requests-get.js';
import { pipelineCapacityGet } from './pipeline-capacity-get.js';
import { pipelineProjectCapacityGet } from './pipeline-project-capacity-get.js';
import { operatorGrantRequestsList } from './operator-grant-requests-list.js';
import { operatorGrantRequestsGet } from './operator-grant-requests-get.js';
import { operatorGrantDecision } from './operator-grant-decision.js';
import { operatorGrantRevoke } from './operator-grant-revoke.js';
import { grantReview } from './grant-review.js';
import { organizationsList } from './organizations-list.js';
import { organizationsCreate } from './organizations-create.js';
import { projectsList } from './projects-list.js';
import { projectsCreate } from './projects-create.js';
import { projectsGet } from './projects-get.js';
import { projectsUpdate } from './projects-update.js';
import { membersList } from './members-list.js';
import { membersAdd } from './members-add.js';
import { membersUpdate } from './members-update.js';
import { membersRemove } from './members-remove.js';
import { invitationsAccept, invitationsList } from './invitations.js';
import { tenantPoliciesGet, tenantPoliciesUpdate } from './tenant-policies.js';
import { tenantRevocations } from './tenant-revocations.js';
import { organizationGet } from './organization-get.js';
import { organizationSettingsGet } from './organization-settings-get.js';
import { organizationSettingsUpdate } from './organization-settings-update.js';
import { organizationUsageGet } from './organization-usage.js';
import { identitiesSearch } from './identities-search.js';
import { auditWriter } from './audit-writer.js';
import { auditRetention } from './audit-retention.js';
import { auditLogQuery } from './audit-log-query.js';
import { auditLogDownload, auditLogDownloadShort } from './audit-log-download.js';
import { auditActionsList, auditActionsListGlobal } from './audit-actions-list.js';
import { auditVerify } from './audit-verify.js';
import { auditCheckSuitesIngest } from './audit-checksuites-ingest.js';
import { auditReadersGrant, auditReadersList, auditReadersRevoke } from './audit-readers.js';
import { auditSettingsGet, auditSettingsUpdate } from './audit-settings.js';
import { packagingFeedDeclarations } from './packaging-feeds.js';
import { npmUpstreamingDeclarations } from './packaging-upstreaming.js';
import { npmRegistryDeclarations } from './npm-registry.js';

/** Every function of the app. The Functions host and the local runtime both read this list. */
export const declarations: readonly FunctionDeclaration[] = instrumented([
  health,
  openApiFunction(() => declarations),
  portal,
  portalUserSettingsPage,
  portalOrganizationSettingsPage,
  organizationsList,
  organizationsCreate,
  projectsList,
  projectsCreate,
  projectsGet,
  projectsUpdate,
  membersList,
  membersAdd,
  membersUpdate,
  membersRemove,
  invitationsList,
  invitationsAccept,
  organizationGet,
  organizationSettingsGet,
  organizationSettingsUpdate,
  organizationUsageGet,
  identitiesSearch,
  patsCreate,
  patsGet,
  patsUpdate,
  patsRevoke,
  patsRotate,
  patsSelf,
  patsSelfRotate,
  connectionDataGet,
  resourceAreasList,
  ...resourceLocationDeclarations(() => declarations),
  tokensIntrospect,
  tokensLeaks,
  tokenPoliciesGet,
  tokenPoliciesUpdate,
  tokenPoliciesPreview,
  tenantPoliciesGet,
  tenantPoliciesUpdate,
  tenantRevocations,
  tokenPoliciesMine,
  tokenAdminList,
  tokenAdminRevocations,
  tokenAdminRevocationRules,
  sshKeysCreate,
  sshKeysGet,
  sshKeysUpdate,
  sshKeysDelete,
  sshKeysLookup,
  sshKeysChallenge,
  lifecycle,
  notificationSender,
  webhookSender,
  notificationsList,
  notificationsMarkRead,
  notificationSettingsGet,
  notificationSettingsUpdate,
  notificationWebhookUpdate,
  notificationWebhookDelete,
  patsExpirationsIcs,
  pipelineGrantRequestsCreate,
  pipelineGrantRequestsList,
  pipelineGrantRequestsGet,
  pipelineCapacityGet,
  pipelineProjectCapacityGet,
  operatorGrantRequestsList,
  operatorGrantRequestsGet,
  operatorGrantDecision,
  operatorGrantRevoke,
  grantReview,
  auditWriter,
  auditRetention,
  auditLogQuery,
  auditLogDownload,
  auditLogDownloadShort,
  auditActionsList,
  auditActionsListGlobal,
  auditVerify,
  auditCheckSuitesIngest,
  auditReadersList,
  auditReadersGrant,
  auditReadersRevoke,
  auditSettingsGet,
  auditSettingsUpdate,
  ...packagingFeedDeclarations,
  ...npmUpstreamingDeclarations,
  ...npmRegistryDeclarations,
  notFoundFunction(() => declarations),
]);
