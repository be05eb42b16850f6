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
} as const;

export const QUEUES = {
  audit: 'audit-events',
} as const;

export const CONTAINERS: Readonly<Record<string, string>> = {};

export type TableName = (typeof TABLES)[keyof typeof TABLES];
export type QueueName = (typeof QUEUES)[keyof typeof QUEUES];

export const poisonQueueName = (queue: string): string => `${queue}-poison`;
