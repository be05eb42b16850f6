import type { TableClient } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { memoForApp } from '../app-memo.js';
import { TtlCache } from '../cache.js';
import { readEntity } from '../storage/entities.js';
import { CONTAINERS, TABLES } from '../storage/names.js';
import { DAY_MS } from '../time.js';

/**
 * Audit storage layout.
 *
 * `auditlog` (one day partition per organization, newest first):
 * - PartitionKey `<organization id>|<yyyyMMdd>` (UTC day of the event time).
 * - `e_<inverted ticks, 19 digits>_<event id>`: the event. Inverted .NET ticks sort the newest first,
 *   so a time window is a RowKey range inside each day partition.
 * - `d_<event id>`: the idempotency row (points at the event row); created with the event.
 * - `head`: the partition's hash chain head (Seq, Hash), updated with the event (see chain.ts).
 *   The three are one entity group transaction.
 *
 * `auditdays`: PartitionKey `<organization id>`, RowKey `<yyyyMMdd>`: the days that have events, so a
 * window visits only days with data and retention finds expired days without a scan.
 *
 * `auditsettings`: PartitionKey `<organization id>`: `settings` (retention days), `r_<user id>`
 * (audit log reader grants), plus outbox rows of those changes; PartitionKey `_retention`, RowKey
 * `cursor`: where the retention timer stopped.
 *
 * Blob container `audit-payloads`: event data larger than a table property allows, at
 * `<organization id>/<yyyyMMdd>/<event id>-<sha256>.json`.
 */

export const EVENT_PREFIX = 'e_';
/** Sorts after every event row key (`~` is above digits, letters, `_` and `-`). */
export const EVENT_END = 'e_~';
export const HEAD_ROW_KEY = 'head';
export const dedupeRowKey = (eventId: string): string => `d_${eventId}`;

const TICKS_AT_EPOCH = 621_355_968_000_000_000n;
const MAX_TICKS = 3_155_378_975_999_999_999n;

/** .NET-compatible inverted ticks, 19 digits: newer times give smaller keys. */
export function invertedTicks(ms: number): string {
  return (MAX_TICKS - (BigInt(Math.floor(ms)) * 10_000n + TICKS_AT_EPOCH)).toString().padStart(19, '0');
}

/** The UTC day `yyyyMMdd` of a time in ms. */
export function dayKey(ms: number): string {
  return new Date(ms).toISOString().slice(0, 10).replace(/-/g, '');
}

export const partitionKeyOf = (organizationId: string, day: string): string => `${organizationId}|${day}`;
export const eventRowKey = (ms: number, eventId: string): string => `${EVENT_PREFIX}${invertedTicks(ms)}_${eventId}`;
/** Lowest row key of events at or before `ms` (newest-first order). */
export const rowKeyAtOrBefore = (ms: number): string => `${EVENT_PREFIX}${invertedTicks(ms)}_`;
/** Highest row key of events at or after `ms`. */
export const rowKeyAtOrAfter = (ms: number): string => `${EVENT_PREFIX}${invertedTicks(ms)}_~`;

/** The stored event: one entity of `auditlog`. Optional columns are absent when the event has no value. */
export type AuditRow = {
  partitionKey: string;
  rowKey: string;
  EventId: string;
  /** The event time (ISO, UTC). Not `Timestamp`, which Table Storage keeps for itself. */
  EventTime: string;
  OrganizationId: string;
  OrganizationName: string;
  ProjectId?: string;
  ProjectName?: string;
  ActionId: string;
  Area: string;
  Category: string;
  ActorKind: string;
  ActorId: string;
  ActorUpn?: string;
  /** Lower-cased UPN, for the actor filter (derived, not hashed). */
  ActorUpnLower?: string;
  ActorDisplayName: string;
  ActorClientId?: string;
  AuthenticationMechanism: string;
  IpAddress?: string;
  UserAgent?: string;
  CorrelationId: string;
  ActivityId: string;
  ScopeType: string;
  ScopeId: string;
  /** Canonical JSON of the data, when it fits in a property. */
  Data?: string;
  /** Blob name in `audit-payloads` otherwise. */
  DataBlob?: string;
  DataSha256: string;
  DataLength: number;
  Seq: number;
  PrevHash: string;
  Hash: string;
  WrittenAt: string;
};

export type ChainHeadRow = {
  partitionKey: string;
  rowKey: string;
  Seq: number;
  Hash: string;
  UpdatedAt: string;
};

export const auditLogTable = (app: AppContext): TableClient => app.storage.table(TABLES.auditLog);
export const auditDaysTable = (app: AppContext): TableClient => app.storage.table(TABLES.auditDays);
export const auditSettingsTable = (app: AppContext): TableClient => app.storage.table(TABLES.auditSettings);

export async function payloadContainer(app: AppContext) {
  const blobs = await app.storage.blobs();
  if (!blobs) throw new Error('blob storage is not configured (STORAGE__blobServiceUri); large audit data needs it');
  return blobs.getContainerClient(CONTAINERS.auditPayloads);
}

export const SETTINGS_ROW_KEY = 'settings';

export interface AuditOrganizationSettings {
  retentionDays: number;
  /** False while the organization uses the service default. */
  custom: boolean;
  /** A shorter retention an administrator set, which applies only from `effectiveFrom`. */
  pending?: { retentionDays: number; effectiveFrom: string };
}

/** No retention is shorter than this: the trail always covers a month. */
export const MIN_RETENTION_DAYS = 30;
/** A shorter retention applies only this long after it is set, announced in the trail meanwhile. */
export const RETENTION_SHORTENING_DELAY_DAYS = 7;

interface SettingsRow {
  RetentionDays?: number;
  PendingRetentionDays?: number;
  PendingFrom?: string;
}

export async function getAuditSettings(app: AppContext, organizationId: string): Promise<AuditOrganizationSettings> {
  const row = await readEntity<SettingsRow>(auditSettingsTable(app), organizationId, SETTINGS_ROW_KEY);
  const valid = (days: unknown): days is number => typeof days === 'number' && Number.isInteger(days) && days >= MIN_RETENTION_DAYS;
  const current: AuditOrganizationSettings = valid(row?.RetentionDays)
    ? { retentionDays: row.RetentionDays, custom: true }
    : { retentionDays: Math.max(app.config.audit.defaultRetentionDays, MIN_RETENTION_DAYS), custom: false };
  const pendingDays = row?.PendingRetentionDays;
  if (!valid(pendingDays) || typeof row?.PendingFrom !== 'string') return current;
  if (Date.parse(row.PendingFrom) <= app.clock.now().getTime()) return { retentionDays: pendingDays, custom: true };
  return { ...current, pending: { retentionDays: pendingDays, effectiveFrom: row.PendingFrom } };
}

const SETTINGS_CACHE_MS = 10_000;
const settingsCacheOf = memoForApp(
  () =>
    new TtlCache<AuditOrganizationSettings>(
      () => SETTINGS_CACHE_MS,
      () => 10_000,
    ),
);

/**
 * getAuditSettings for the writer's retention check, reused for ten seconds (it runs for every event);
 * this instance's own updates apply at once (forgetAuditSettings).
 */
export async function cachedAuditSettings(app: AppContext, organizationId: string): Promise<AuditOrganizationSettings> {
  const cache = settingsCacheOf(app);
  const known = cache.get(organizationId, app.clock.now().getTime());
  if (known) return known;
  const settings = await getAuditSettings(app, organizationId);
  cache.set(organizationId, settings, app.clock.now().getTime());
  return settings;
}

export function forgetAuditSettings(app: AppContext, organizationId: string): void {
  settingsCacheOf(app).delete(organizationId);
}

/** The first day that is still kept: day partitions before it are past the organization's retention. */
export function firstRetainedDay(nowMs: number, retentionDays: number): string {
  return dayKey(nowMs - retentionDays * DAY_MS);
}

/** Reads a row's data, from its column or its blob. */
export async function readRowData(app: AppContext, row: Pick<AuditRow, 'Data' | 'DataBlob'>): Promise<string> {
  if (typeof row.Data === 'string') return row.Data;
  if (typeof row.DataBlob === 'string') {
    const buffer = await (await payloadContainer(app)).getBlockBlobClient(row.DataBlob).downloadToBuffer();
    return buffer.toString('utf8');
  }
  return '{}';
}
