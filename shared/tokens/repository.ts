import { truncate } from '../text.js';
import { createHash, randomUUID, timingSafeEqual } from 'node:crypto';
import { odata, type TableEntity, type TransactionAction } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { commitWithEvents, type IndexEffect } from '../audit/outbox.js';
import type { AuditEvent } from '../audit/events.js';
import { ignoreMissing, parseJsonColumn, readAll, readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import { expiryKeys } from '../storage/expiry-keys.js';
import { announceChange } from '../coherence/changes.js';
import { parseGatehouseToken } from '../secrets/format.js';
import { hashToken } from '../secrets/hashing.js';
import type { CredentialFacts } from './judge.js';

/**
 * PAT storage (see the storage design in docs/architecture.md), one table, `pats`:
 * - PartitionKey = the first four hex digits of the authorization id, which are those of the owner
 *   (`ownerPartitionOf`): every row of a PAT, and all PATs of one owner, share one partition.
 * - `pat_<authorizationId>`: the record, with the owner identity captured at issue time. The token
 *   carries its authorization id, so authentication, a leak report or an admin revocation by id is one
 *   point read; the secret is checked against the stored HMAC.
 * - `use_<authorizationId>` (last use), `leak_<authorizationId>`, `idem_…` (rotation replays) and
 *   `outbox_<event id>` rows.
 * The `patexpiry` index (PK = `yyyyMMddHH` of validTo, RK = zero-padded validTo ms + `_` + id) is kept
 * by index effects that the audit writer applies once the change is proven (audit/outbox.ts), so a
 * create or update is one transaction plus one queue message. The sweeper verifies each index row
 * against the record, so stale rows are harmless.
 */

export type RevocationKind = 'user' | 'admin' | 'rule' | 'system';

export interface PatRecord {
  authorizationId: string;
  ownerId: string;
  accessId: string;
  displayName: string;
  /** Space-separated scopes as given (validated). */
  scope: string;
  /** Organization ids; null for a global PAT. */
  targetAccounts: string[] | null;
  validFrom: string;
  validTo: string;
  revokedAt: string | null;
  revokedBy: string | null;
  revocationKind: RevocationKind | null;
  pepperVersion: string;
  hash: string;
  /** The organization whose URL the token was created under. */
  organizationId: string;
  updatedAt: string;
  /** Set when the PAT was rotated: the successor's authorizationId (see rotation.ts). */
  rotatedTo?: string | null;
  /** The old secret of a rotated PAT stops working at this instant (derived at read). */
  graceEndsAt?: string | null;
  /** Why a system revocation happened, e.g. 'rotated', 'leaked'. */
  revocationReason?: string | null;
  /** Set by the lifecycle sweep, with Token.PatExpiredEvent in the same transaction (exactly once). */
  expiredEventAt?: string | null;
  /** Who owned it when it was issued (the authenticator's caller identity). */
  owner?: PatOwnerIdentity | null;
  /** Organizations whose administrators revoked it there (it keeps working where else it reaches). */
  blockedIn?: string[];
  /** When the first PAT of its rotation chain was issued (validFrom when it was never rotated). */
  lineageStartedAt?: string | null;
}

/** Who owns a PAT, as the record keeps it for authentication (captured at issue time). */
export interface PatOwnerIdentity {
  displayName: string;
  email: string;
  tenantId: string;
}

/** What the authenticator needs from a record (and caches). */
export interface PatAuthSnapshot {
  /** Hex HMAC of the secret. */
  hash: string;
  authorizationId: string;
  ownerId: string;
  scope: string;
  targetAccounts: string[] | null;
  validFrom: string;
  validTo: string;
  revokedAt: string | null;
  graceEndsAt: string | null;
  rotatedTo: string | null;
  organizationId: string;
  displayName: string;
  owner: PatOwnerIdentity;
  blockedIn: string[];
  lineageStartedAt: string;
}

/** Last use of a PAT (row `use_<authorizationId>` in the owner's `pats` partition). */
export interface PatUsage {
  time: string;
  ip: string | null;
  userAgent: string | null;
  /** The five most recent distinct client IPs, newest first. */
  recentIps: string[];
  /** The last use seen in each organization (what that organization's administrators are shown). */
  byOrganization: Record<string, PatUse | undefined>;
}

/** One use: when, from where, with what. */
export interface PatUse {
  time: string;
  ip: string | null;
  userAgent: string | null;
}

export interface StoredPat {
  record: PatRecord;
  etag: string;
}

export type PatStatus = 'active' | 'expired' | 'revoked';

/** Derived on read, so correctness never waits for the lifecycle timer. */
export function statusOf(record: PatRecord, now: Date): PatStatus {
  if (record.revokedAt) return 'revoked';
  return Date.parse(record.validTo) <= now.getTime() ? 'expired' : 'active';
}

export const patRowKey = (authorizationId: string) => `pat_${authorizationId.toLowerCase()}`;
export const usageRowKey = (authorizationId: string) => `use_${authorizationId.toLowerCase()}`;

/** The partition of an owner's PATs: four hex digits of SHA-256 of the owner id (65,536 partitions). */
export const ownerPartitionOf = (ownerId: string): string => createHash('sha256').update(ownerId, 'utf8').digest('hex').slice(0, 4);

/** The partition of a PAT's rows: the first four hex digits of its authorization id. */
export function patPartitionOf(authorizationId: string): string {
  const partition = authorizationId.slice(0, 4).toLowerCase();
  if (!/^[0-9a-f]{4}$/.test(partition)) throw new Error('not a PAT authorization id');
  return partition;
}

/** A new authorization id in the owner's partition (a UUID v4 whose first four hex digits are the partition's). */
export const newPatAuthorizationId = (ownerId: string): string => `${ownerPartitionOf(ownerId)}${randomUUID().slice(4)}`;

/** Local listeners told about every write to a PAT (the authentication cache drops the entry). */
const writeListeners = new Set<(hash: string) => void>();
export function onPatWritten(listener: (hash: string) => void): void {
  writeListeners.add(listener);
}
const notifyWritten = async (hash: string) => {
  for (const listener of writeListeners) listener(hash);
  await announceChange('pat', hash);
};

const str = (value: unknown) => (typeof value === 'string' ? value : '');

/** The authenticator's view of a record. */
export function snapshotOf(record: PatRecord): PatAuthSnapshot {
  return {
    hash: record.hash,
    authorizationId: record.authorizationId,
    ownerId: record.ownerId,
    scope: record.scope,
    targetAccounts: record.targetAccounts,
    validFrom: record.validFrom,
    validTo: record.validTo,
    revokedAt: record.revokedAt,
    graceEndsAt: record.graceEndsAt ?? null,
    rotatedTo: record.rotatedTo ?? null,
    organizationId: record.organizationId,
    displayName: record.displayName,
    owner: record.owner ?? { displayName: '', email: '', tenantId: '' },
    blockedIn: record.blockedIn ?? [],
    lineageStartedAt: record.lineageStartedAt ?? record.validFrom,
  };
}

/** The `patexpiry` row of a record at `dueAt` (its validTo, or graceEndsAt for a rotation grace row). */
function expiryUpsert(record: PatRecord, dueAt: string, kind?: 'rotationGrace'): IndexEffect {
  return {
    op: 'upsert',
    table: TABLES.patExpiry,
    ...expiryKeys(dueAt, record.authorizationId),
    columns: { ownerId: record.ownerId, authorizationId: record.authorizationId, ...(kind ? { kind } : {}) },
  };
}

function expiryDelete(record: PatRecord, dueAt: string): IndexEffect {
  return { op: 'delete', table: TABLES.patExpiry, ...expiryKeys(dueAt, record.authorizationId) };
}

/** The expiry index changes from one version of a record to the next (revoked tokens leave the index). */
function expiryEffects(previous: PatRecord | undefined, next: PatRecord): IndexEffect[] {
  const before = previous && !previous.revokedAt ? previous.validTo : undefined;
  const after = next.revokedAt ? undefined : next.validTo;
  if (before === after) return [];
  return [...(after ? [expiryUpsert(next, after)] : []), ...(previous && before ? [expiryDelete(previous, before)] : [])];
}

function toEntity(record: PatRecord): TableEntity {
  return {
    partitionKey: patPartitionOf(record.authorizationId),
    rowKey: patRowKey(record.authorizationId),
    ownerId: record.ownerId,
    authorizationId: record.authorizationId,
    scope: record.scope,
    targetAccounts: record.targetAccounts === null ? '' : JSON.stringify(record.targetAccounts),
    isGlobal: record.targetAccounts === null,
    validFrom: record.validFrom,
    validTo: record.validTo,
    revokedAt: record.revokedAt ?? '',
    graceEndsAt: record.graceEndsAt ?? '',
    rotatedTo: record.rotatedTo ?? '',
    organizationId: record.organizationId,
    displayName: record.displayName,
    accessId: record.accessId,
    revokedBy: record.revokedBy ?? '',
    revocationKind: record.revocationKind ?? '',
    pepperVersion: record.pepperVersion,
    hash: record.hash,
    updatedAt: record.updatedAt,
    revocationReason: record.revocationReason ?? '',
    expiredEventAt: record.expiredEventAt ?? '',
    blockedIn: JSON.stringify(record.blockedIn ?? []),
    lineageStartedAt: record.lineageStartedAt ?? '',
    ...ownerColumns(record.owner ?? undefined),
  };
}

function fromEntity(row: Record<string, unknown>): PatRecord {
  return {
    authorizationId: str(row.authorizationId),
    ownerId: str(row.ownerId),
    scope: str(row.scope),
    targetAccounts: row.isGlobal === true ? null : parseJsonColumn<string[]>(row.targetAccounts, []),
    validFrom: str(row.validFrom),
    validTo: str(row.validTo),
    revokedAt: str(row.revokedAt) || null,
    graceEndsAt: str(row.graceEndsAt) || null,
    rotatedTo: str(row.rotatedTo) || null,
    organizationId: str(row.organizationId),
    displayName: str(row.displayName),
    accessId: str(row.accessId),
    revokedBy: str(row.revokedBy) || null,
    revocationKind: (str(row.revocationKind) || null) as RevocationKind | null,
    pepperVersion: str(row.pepperVersion),
    hash: str(row.hash),
    updatedAt: str(row.updatedAt),
    revocationReason: str(row.revocationReason) || null,
    expiredEventAt: str(row.expiredEventAt) || null,
    owner: str(row.ownerName) || str(row.ownerEmail) ? { displayName: str(row.ownerName), email: str(row.ownerEmail), tenantId: str(row.ownerTenantId) } : null,
    blockedIn: parseJsonColumn<string[]>(row.blockedIn, []),
    lineageStartedAt: str(row.lineageStartedAt) || null,
  };
}

function usageFromRow(row: Record<string, unknown>): PatUsage {
  const text = (value: unknown) => (typeof value === 'string' && value ? value : null);
  return {
    time: text(row.lastUsedAt) ?? '',
    ip: text(row.lastUsedIp),
    userAgent: text(row.lastUsedUserAgent),
    recentIps: parseJsonColumn<string[]>(row.recentIps, []),
    byOrganization: parseJsonColumn<Record<string, PatUse>>(row.byOrganization, {}),
  };
}

function ownerColumns(owner: PatOwnerIdentity | undefined): Record<string, string> {
  return owner ? { ownerName: truncate(owner.displayName, 256), ownerEmail: truncate(owner.email, 256), ownerTenantId: owner.tenantId } : {};
}

export function usageEntity(ownerId: string, authorizationId: string, usage: PatUsage): TableEntity {
  return {
    partitionKey: patPartitionOf(authorizationId),
    rowKey: usageRowKey(authorizationId),
    ownerId,
    lastUsedAt: usage.time,
    lastUsedIp: usage.ip ?? '',
    lastUsedUserAgent: usage.userAgent ?? '',
    recentIps: JSON.stringify(usage.recentIps),
    byOrganization: JSON.stringify(usage.byOrganization),
  };
}

export class PatRepository {
  constructor(private readonly app: AppContext) {}

  private table() {
    return this.app.storage.table(TABLES.pats);
  }

  async listByOwner(ownerId: string): Promise<StoredPat[]> {
    const rows = await readAll<Record<string, unknown>>(
      this.table(),
      odata`PartitionKey eq ${ownerPartitionOf(ownerId)} and RowKey ge ${'pat_'} and RowKey lt ${'pat`'} and ownerId eq ${ownerId}`,
    );
    return rows.map((row) => ({ record: fromEntity(row), etag: row.etag }));
  }

  /** A PAT of this owner (undefined when the id is someone else's). */
  async get(ownerId: string, authorizationId: string): Promise<StoredPat | undefined> {
    const stored = await this.getById(authorizationId);
    return stored?.record.ownerId === ownerId ? stored : undefined;
  }

  async getById(authorizationId: string): Promise<StoredPat | undefined> {
    if (!/^[0-9a-f]{4}/i.test(authorizationId)) return undefined;
    const row = await readEntity<Record<string, unknown>>(this.table(), patPartitionOf(authorizationId), patRowKey(authorizationId));
    return row ? { record: fromEntity(row), etag: row.etag } : undefined;
  }

  /** Finds a PAT by its secret: checksum check, one point read by the id the token carries, then the HMAC. */
  async findByToken(token: string): Promise<StoredPat | undefined> {
    const parsed = parseGatehouseToken(token);
    if (!parsed) return undefined;
    const hash = hashToken(this.app.config.peppers, parsed.pepperVersion, token);
    if (!hash) return undefined;
    const stored = await this.getById(parsed.authorizationId);
    return stored && sameHash(stored.record.hash, hash) ? stored : undefined;
  }

  /** The authentication snapshot of a token's record (one point read); the caller checks the hash. */
  async findSnapshot(authorizationId: string): Promise<PatAuthSnapshot | undefined> {
    const stored = await this.getById(authorizationId);
    if (!stored) return undefined;
    const snapshot = snapshotOf(stored.record);
    if (stored.record.owner) return snapshot;
    const owner = await this.app.directory.getUser(stored.record.ownerId);
    return { ...snapshot, owner: { displayName: owner?.displayName ?? stored.record.ownerId, email: owner?.email ?? '', tenantId: owner?.tenantId ?? '' } };
  }

  async getUsage(ownerId: string, authorizationId: string): Promise<(PatUsage & { etag: string }) | undefined> {
    const row = await readEntity<Record<string, unknown>>(this.table(), patPartitionOf(authorizationId), usageRowKey(authorizationId));
    if (!row || (typeof row.ownerId === 'string' && row.ownerId !== ownerId)) return undefined;
    return { ...usageFromRow(row), etag: row.etag };
  }

  /** Every usage row of an owner, by authorizationId. */
  async listUsageByOwner(ownerId: string): Promise<Map<string, PatUsage>> {
    const rows = await readAll<Record<string, unknown>>(
      this.table(),
      odata`PartitionKey eq ${ownerPartitionOf(ownerId)} and RowKey ge ${'use_'} and RowKey lt ${'use`'} and ownerId eq ${ownerId}`,
    );
    return new Map(rows.map((row) => [String(row.rowKey ?? '').slice('use_'.length), usageFromRow(row)]));
  }

  /** The record and its events in one transaction; the expiry index row follows as an effect. */
  async create(record: PatRecord, events: readonly AuditEvent[], owner?: PatOwnerIdentity): Promise<void> {
    const withOwner = owner ? { ...record, owner } : record;
    await commitWithEvents(this.app, TABLES.pats, [['create', toEntity(withOwner)]], events, expiryEffects(undefined, withOwner));
  }

  /** Replaces the record if it still has `etag` (412 from storage otherwise, nothing written). */
  async replace(previous: PatRecord, etag: string, next: PatRecord, events: readonly AuditEvent[]): Promise<void> {
    try {
      await commitWithEvents(this.app, TABLES.pats, [['update', toEntity(next), 'Replace', { etag }]], events, expiryEffects(previous, next));
    } finally {
      await notifyWritten(next.hash);
    }
  }

  /**
   * Rotation in one transaction on the owner's partition: the old record (with `etag`) becomes
   * `oldNext` (rotatedTo, graceEndsAt, or revoked when there is no grace), the successor is created,
   * plus `extra` rows (the idempotency record) and the events. Effects index the successor's expiry
   * and, while a grace period runs, the old token's graceEndsAt.
   */
  async rotate(
    previous: PatRecord,
    etag: string,
    oldNext: PatRecord,
    created: PatRecord,
    owner: PatOwnerIdentity,
    extra: readonly TableEntity[],
    events: readonly AuditEvent[],
    extraEffects: readonly IndexEffect[] = [],
  ): Promise<void> {
    const successor = { ...created, owner };
    const effects = [
      ...extraEffects,
      ...expiryEffects(undefined, successor),
      ...expiryEffects(previous, oldNext),
      ...(oldNext.graceEndsAt && !oldNext.revokedAt ? [expiryUpsert(oldNext, oldNext.graceEndsAt, 'rotationGrace')] : []),
    ];
    const actions: TransactionAction[] = [
      ['update', toEntity(oldNext), 'Replace', { etag }],
      ['create', toEntity(successor)],
      ...extra.map((entity): TransactionAction => ['create', entity]),
    ];
    try {
      await commitWithEvents(this.app, TABLES.pats, actions, events, effects);
    } finally {
      await notifyWritten(oldNext.hash);
    }
  }

  /** Removes the grace-period expiry row of a rotated PAT (after it was finalised). */
  async deleteGraceExpiryRow(record: PatRecord): Promise<void> {
    if (!record.graceEndsAt) return;
    const keys = expiryKeys(record.graceEndsAt, record.authorizationId);
    const expiry = this.app.storage.table(TABLES.patExpiry);
    const row = await readEntity<{ kind?: string }>(expiry, keys.partitionKey, keys.rowKey);
    // Only the grace row: when graceEndsAt equals validTo the row is the ordinary expiry entry.
    if (row?.kind === 'rotationGrace') await ignoreMissing(expiry.deleteEntity(keys.partitionKey, keys.rowKey));
  }
}

/** Constant-time comparison of two hex HMACs. */
export function sameHash(stored: string, computed: string): boolean {
  const a = Buffer.from(stored, 'hex');
  const b = Buffer.from(computed, 'hex');
  return a.length === 32 && b.length === 32 && timingSafeEqual(a, b);
}

/** What the credential judge needs to know of a PAT. */
export function patFactsOf(snapshot: PatAuthSnapshot): CredentialFacts {
  return {
    kind: 'pat',
    ownerId: snapshot.ownerId,
    ownerTenantId: snapshot.owner.tenantId,
    issuedIn: snapshot.organizationId,
    targets: snapshot.targetAccounts,
    blockedIn: snapshot.blockedIn,
    validFrom: snapshot.validFrom,
    lineageStartedAt: snapshot.lineageStartedAt,
    validTo: snapshot.validTo,
    revokedAt: snapshot.revokedAt,
    graceEndsAt: snapshot.graceEndsAt,
    scopes: snapshot.scope.split(' ').filter(Boolean),
  };
}
