/**
 * Every table, queue and blob container the app uses. Table names are alphanumeric (a Table
 * Storage rule); queue names are lowercase with hyphens and get a `-poison` sibling.
 */
export const TABLES = {
  organizations: 'organizations',
  projects: 'projects',
  members: 'members',
  users: 'users',
  servicePrincipals: 'serviceprincipals',
  pats: 'pats',
  patExpiry: 'patexpiry',
  sshKeys: 'sshkeys',
  sshKeyIds: 'sshkeyids',
  sshFingerprints: 'sshfingerprints',
  sshExpiry: 'sshexpiry',
  tokenPolicies: 'tokenpolicies',
  revocationRules: 'revocationrules',
  continuations: 'continuations',
  pipelineGrants: 'pipelinegrants',
  auditLog: 'auditlog',
  auditDays: 'auditdays',
  auditSettings: 'auditsettings',
  feeds: 'feeds',
  npmPackages: 'npmpackages',
  lifecycle: 'lifecycle',
  notificationSettings: 'notificationsettings',
  notificationSent: 'notificationsent',
  notificationInbox: 'notificationinbox',
  /** The change feed that keeps every instance's caches coherent (shared/coherence/changes.ts). */
  changes: 'changes',
} as const;

export const QUEUES = {
  audit: 'audit-events',
  notifications: 'notifications',
  /** Webhook deliveries of notices already in their inbox, worked in per-organization lanes. */
  webhooks: 'webhook-deliveries',
} as const;

export const CONTAINERS = {
  /** Audit event data too large for a table property (kept whole, never cut). */
  auditPayloads: 'audit-payloads',
  /** Signed checkpoints of the audit hash chains (shared/audit/checkpoints.ts); write once. */
  auditCheckpoints: 'audit-checkpoints',
  /** npm package tarballs of every feed, content-addressed (`npm/sha512/<hex>.tgz`). */
  packages: 'packages',
} as const satisfies Readonly<Record<string, string>>;

/**
 * Containers whose blobs must never change or go: Azure gives them a time-based immutability policy
 * (infra/app/storage.bicep); the app only ever creates new blobs there.
 */
export const IMMUTABLE_CONTAINERS: readonly string[] = [CONTAINERS.auditCheckpoints];

export type TableName = (typeof TABLES)[keyof typeof TABLES];

export const poisonQueueName = (queue: string): string => `${queue}-poison`;
