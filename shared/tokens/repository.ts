import { odata, type TableEntity, type TransactionAction } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { commitWithEvents } from '../audit/outbox.js';
import type { AuditEvent } from '../audit/events.js';
import { restErrorStatus } from '../http/errors.js';
import { assertSafeKey, ignoreMissing, parseJsonColumn, readAll, readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import { parseGatehouseToken } from './format.js';
import { hashToken } from './hashing.js';

/**
 * PAT storage (see the README's storage design):
 * - pats: PK = owner user id, RK = `pat_<authorizationId>` (the record; outbox rows share the partition).
 * - pathashes: PK = hex HMAC-SHA256 of the token under its pepper, RK = `pat` → owner + authorizationId.
 * - patids: PK = authorizationId, RK = `pat` → owner (token admin revokes by id alone).
 * - patexpiry: PK = `yyyyMMddHH` of validTo, RK = zero-padded validTo ms + `_` + authorizationId.
 * Index rows are written before the record (and removed after), so a dangling index row can exist but
 * a record without its indexes cannot; readers verify index hits against the record.
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
}

/** Who owns a PAT, as the hash index snapshot keeps it for authentication (captured at issue time). */
export interface PatOwnerIdentity {
  displayName: string;
  email: string;
  tenantId: string;
}

/**
 * What the authenticator needs, kept on the `pathashes` row beside the pointer so authentication is
 * one point read. The record stays the source of truth. Changes that end a token (revoke, rotation)
 * write the snapshot before the record, so they are never late; other changes (update) rewrite it from
 * the stored record after the commit. Ending facts are never cleared from a snapshot, so a writer with
 * an older view cannot revive a token.
 */
export interface PatAuthSnapshot {
  /** The hash index key (hex HMAC of the secret). */
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
}

/** Last use of a PAT (row `use_<authorizationId>` in the owner's `pats` partition). */
export interface PatUsage {
  time: string;
  ip: string | null;
  userAgent: string | null;
  /** The five most recent distinct client IPs, newest first. */
  recentIps: string[];
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
const INDEX_ROW = 'pat';

/** Local listeners told about every write to a PAT (the authentication cache drops the entry). */
const writeListeners = new Set<(hash: string) => void>();
export function onPatWritten(listener: (hash: string) => void): void {
  writeListeners.add(listener);
}
const notifyWritten = (hash: string) => {
  for (const listener of writeListeners) listener(hash);
};

/** The columns the record and its hash index snapshot share, written alike. */
function commonColumns(record: PatRecord): Record<string, unknown> {
  return {
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
  };
}

const str = (value: unknown) => (typeof value === 'string' ? value : '');

/** Reads back what `commonColumns` wrote. */
function commonFromRow(row: Record<string, unknown>) {
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
  };
}

function snapshotColumns(record: PatRecord): Record<string, unknown> {
  return { ...commonColumns(record), snapshot: 1 };
}

function snapshotFromRow(row: Record<string, unknown>): PatAuthSnapshot | undefined {
  if (row.snapshot !== 1 || !str(row.validTo) || !str(row.scope)) return undefined;
  return {
    hash: str(row.partitionKey),
    ...commonFromRow(row),
    owner: { displayName: str(row.ownerName), email: str(row.ownerEmail), tenantId: str(row.ownerTenantId) },
  };
}

export function expiryKeys(validTo: string, authorizationId: string): { partitionKey: string; rowKey: string } {
  const ms = Date.parse(validTo);
  return {
    partitionKey: new Date(ms).toISOString().slice(0, 13).replace(/[-T]/g, ''),
    rowKey: `${String(ms).padStart(13, '0')}_${authorizationId}`,
  };
}

function toEntity(record: PatRecord): TableEntity {
  return {
    partitionKey: assertSafeKey(record.ownerId),
    rowKey: patRowKey(record.authorizationId),
    ...commonColumns(record),
    accessId: record.accessId,
    revokedBy: record.revokedBy ?? '',
    revocationKind: record.revocationKind ?? '',
    pepperVersion: record.pepperVersion,
    hash: record.hash,
    updatedAt: record.updatedAt,
    revocationReason: record.revocationReason ?? '',
    expiredEventAt: record.expiredEventAt ?? '',
  };
}

export function fromEntity(row: Record<string, unknown>): PatRecord {
  return {
    ...commonFromRow(row),
    accessId: str(row.accessId),
    revokedBy: str(row.revokedBy) || null,
    revocationKind: (str(row.revocationKind) || null) as RevocationKind | null,
    pepperVersion: str(row.pepperVersion),
    hash: str(row.hash),
    updatedAt: str(row.updatedAt),
    revocationReason: str(row.revocationReason) || null,
    expiredEventAt: str(row.expiredEventAt) || null,
  };
}

function usageFromRow(row: Record<string, unknown>): PatUsage {
  const text = (value: unknown) => (typeof value === 'string' && value ? value : null);
  return {
    time: text(row.lastUsedAt) ?? '',
    ip: text(row.lastUsedIp),
    userAgent: text(row.lastUsedUserAgent),
    recentIps: parseJsonColumn<string[]>(row.recentIps, []),
  };
}

function ownerColumns(owner: PatOwnerIdentity | undefined): Record<string, string> {
  return owner ? { ownerName: owner.displayName.slice(0, 256), ownerEmail: owner.email.slice(0, 256), ownerTenantId: owner.tenantId } : {};
}

export function usageEntity(ownerId: string, authorizationId: string, usage: PatUsage): TableEntity {
  return {
    partitionKey: assertSafeKey(ownerId),
    rowKey: usageRowKey(authorizationId),
    lastUsedAt: usage.time,
    lastUsedIp: usage.ip ?? '',
    lastUsedUserAgent: usage.userAgent ?? '',
    recentIps: JSON.stringify(usage.recentIps),
  };
}

/** The index rows of a new PAT (hash with its snapshot, id, expiry), written before its record. */
function indexRows(record: PatRecord, owner: PatOwnerIdentity | undefined): [string, TableEntity][] {
  return [
    [TABLES.patHashes, { partitionKey: record.hash, rowKey: INDEX_ROW, ...snapshotColumns(record), ...ownerColumns(owner) } as TableEntity],
    [TABLES.patIds, { partitionKey: record.authorizationId, rowKey: INDEX_ROW, ownerId: record.ownerId }],
    [TABLES.patExpiry, { ...expiryKeys(record.validTo, record.authorizationId), ownerId: record.ownerId, authorizationId: record.authorizationId }],
  ];
}

export class PatRepository {
  constructor(private readonly app: AppContext) {}

  private table(name: string) {
    return this.app.storage.table(name);
  }

  async listByOwner(ownerId: string): Promise<StoredPat[]> {
    const prefix = 'pat_';
    const rows = await readAll<Record<string, unknown>>(
      this.table(TABLES.pats),
      odata`PartitionKey eq ${assertSafeKey(ownerId)} and RowKey ge ${prefix} and RowKey lt ${'pat`'}`,
    );
    return rows.map((row) => ({ record: fromEntity(row), etag: row.etag }));
  }

  async get(ownerId: string, authorizationId: string): Promise<StoredPat | undefined> {
    const row = await readEntity<Record<string, unknown>>(this.table(TABLES.pats), assertSafeKey(ownerId), patRowKey(authorizationId));
    return row ? { record: fromEntity(row), etag: row.etag } : undefined;
  }

  /** The owner of an authorization id, from the id index (verified against the record). */
  async getById(authorizationId: string): Promise<StoredPat | undefined> {
    const index = await readEntity<{ ownerId: string }>(this.table(TABLES.patIds), authorizationId.toLowerCase(), INDEX_ROW);
    if (!index) return undefined;
    return this.get(index.ownerId, authorizationId);
  }

  /** Finds a PAT by its secret: checksum check, then one point read on the hash index. */
  async findByToken(token: string): Promise<StoredPat | undefined> {
    const parsed = parseGatehouseToken(token);
    if (!parsed) return undefined;
    const hash = hashToken(this.app.config.peppers, parsed.pepperVersion, token);
    if (!hash) return undefined;
    const index = await readEntity<{ ownerId: string; authorizationId: string }>(this.table(TABLES.patHashes), hash, INDEX_ROW);
    if (!index) return undefined;
    const stored = await this.get(index.ownerId, index.authorizationId);
    return stored && stored.record.hash === hash ? stored : undefined;
  }

  /**
   * The authentication snapshot for a token hash: one point read on `pathashes`. Rows written before
   * snapshots existed fall back to the record (a second read).
   */
  async findSnapshotByHash(hash: string): Promise<PatAuthSnapshot | undefined> {
    const row = await readEntity<Record<string, unknown>>(this.table(TABLES.patHashes), hash, INDEX_ROW);
    if (!row) return undefined;
    const snapshot = snapshotFromRow(row);
    if (snapshot) return snapshot;
    const stored = await this.get(String(row.ownerId ?? ''), String(row.authorizationId ?? ''));
    if (!stored || stored.record.hash !== hash) return undefined;
    const owner = await this.app.directory.getUser(stored.record.ownerId);
    return snapshotFromRow({
      partitionKey: hash,
      ...snapshotColumns(stored.record),
      ownerName: owner?.displayName ?? stored.record.ownerId,
      ownerEmail: owner?.email ?? '',
      ownerTenantId: owner?.tenantId ?? '',
    });
  }

  /**
   * Rewrites the snapshot of a record. Merge keeps the owner identity captured at issue time, and the
   * terminal facts (revokedAt, rotatedTo, graceEndsAt) are only ever set, never cleared, so a racing
   * writer with an older view can never revive a revoked or rotated token.
   */
  async writeSnapshot(record: PatRecord): Promise<void> {
    notifyWritten(record.hash);
    const columns = snapshotColumns(record);
    for (const terminal of ['revokedAt', 'rotatedTo', 'graceEndsAt'] as const) {
      if (columns[terminal] === '') delete columns[terminal];
    }
    await this.table(TABLES.patHashes).upsertEntity({ partitionKey: record.hash, rowKey: INDEX_ROW, ...columns } as TableEntity, 'Merge');
    notifyWritten(record.hash);
  }

  /** The snapshot follows whatever the stored record now says (after an update, or a failed write). */
  private async resyncSnapshot(record: PatRecord): Promise<void> {
    try {
      const current = await this.get(record.ownerId, record.authorizationId);
      if (current) await this.writeSnapshot(current.record);
    } catch (error) {
      this.app.log.warn('PAT hash snapshot left out of step', { status: restErrorStatus(error) ?? null });
    }
  }

  async getUsage(ownerId: string, authorizationId: string): Promise<(PatUsage & { etag: string }) | undefined> {
    const row = await readEntity<Record<string, unknown>>(this.table(TABLES.pats), assertSafeKey(ownerId), usageRowKey(authorizationId));
    return row ? { ...usageFromRow(row), etag: row.etag } : undefined;
  }

  /** Every usage row of an owner, by authorizationId. */
  async listUsageByOwner(ownerId: string): Promise<Map<string, PatUsage>> {
    const rows = await readAll<Record<string, unknown>>(
      this.table(TABLES.pats),
      odata`PartitionKey eq ${assertSafeKey(ownerId)} and RowKey ge ${'use_'} and RowKey lt ${'use`'}`,
    );
    return new Map(rows.map((row) => [String(row.rowKey ?? '').slice('use_'.length), usageFromRow(row)]));
  }

  /** Writes the indexes, then the record and its events in one transaction. */
  async create(record: PatRecord, events: readonly AuditEvent[], owner?: PatOwnerIdentity): Promise<void> {
    const indexes = indexRows(record, owner);
    await Promise.all(indexes.map(([table, entity]) => this.table(table).createEntity(entity)));
    try {
      await commitWithEvents(this.app, TABLES.pats, [['create', toEntity(record)]], events);
    } catch (error) {
      // Remove the indexes only when the record is known to be absent: a commit whose reply was lost
      // may have succeeded, and a record without its indexes would be half a token. Indexes left
      // behind point at nothing, and every reader checks the record.
      const committed = await readEntity(this.table(TABLES.pats), record.ownerId, patRowKey(record.authorizationId)).then(
        (row) => row !== undefined,
        () => true,
      );
      if (!committed) {
        await Promise.all(
          indexes.map(([table, entity]) => this.table(table).deleteEntity(entity.partitionKey, entity.rowKey).catch(() => undefined)),
        );
      }
      throw error;
    }
  }

  /**
   * Replaces the record if it still has `etag` (412 from storage otherwise, nothing written) and keeps
   * the expiry index in step: a new expiry row before, the old one removed after; revoked tokens
   * leave the expiry index.
   */
  async replace(previous: PatRecord, etag: string, next: PatRecord, events: readonly AuditEvent[]): Promise<void> {
    const oldExpiry = previous.revokedAt ? undefined : expiryKeys(previous.validTo, previous.authorizationId);
    const newExpiry = next.revokedAt ? undefined : expiryKeys(next.validTo, next.authorizationId);
    const same = oldExpiry && newExpiry && oldExpiry.partitionKey === newExpiry.partitionKey && oldExpiry.rowKey === newExpiry.rowKey;
    const expiryTable = this.table(TABLES.patExpiry);
    if (newExpiry && !same) {
      await expiryTable.upsertEntity({ ...newExpiry, ownerId: next.ownerId, authorizationId: next.authorizationId }, 'Replace');
    }
    // A change that ends the token (revoke, rotation) reaches the snapshot before the record, so it is
    // never late; other changes follow the record.
    const ending = (next.revokedAt && !previous.revokedAt) || (next.graceEndsAt && !previous.graceEndsAt);
    if (ending) await this.writeSnapshot(next);
    const action: TransactionAction = ['update', toEntity(next), 'Replace', { etag }];
    try {
      await commitWithEvents(this.app, TABLES.pats, [action], events);
    } catch (error) {
      if (newExpiry && !same) await ignoreMissing(expiryTable.deleteEntity(newExpiry.partitionKey, newExpiry.rowKey)).catch(() => undefined);
      throw error;
    }
    if (!ending) await this.resyncSnapshot(next);
    notifyWritten(next.hash);
    if (oldExpiry && !same) {
      await ignoreMissing(expiryTable.deleteEntity(oldExpiry.partitionKey, oldExpiry.rowKey)).catch((error: unknown) => {
        this.app.log.warn('stale expiry index row left for the sweeper', { status: restErrorStatus(error) ?? null });
      });
    }
  }

  /**
   * Rotation in one transaction on the owner's partition: the old record (with `etag`) becomes
   * `oldNext` (rotatedTo, graceEndsAt, or revoked when there is no grace), the successor is created,
   * plus `extra` rows (the idempotency record) and the events. The successor's indexes and, while a
   * grace period runs, a `patexpiry` row for the old token at graceEndsAt are written first.
   */
  async rotate(
    previous: PatRecord,
    etag: string,
    oldNext: PatRecord,
    created: PatRecord,
    owner: PatOwnerIdentity,
    extra: readonly TableEntity[],
    events: readonly AuditEvent[],
  ): Promise<void> {
    const indexes = indexRows(created, owner);
    const graceRow =
      oldNext.graceEndsAt && !oldNext.revokedAt
        ? { ...expiryKeys(oldNext.graceEndsAt, oldNext.authorizationId), ownerId: oldNext.ownerId, authorizationId: oldNext.authorizationId, kind: 'rotationGrace' }
        : undefined;
    await Promise.all(indexes.map(([table, entity]) => this.table(table).createEntity(entity)));
    if (graceRow) await this.table(TABLES.patExpiry).upsertEntity(graceRow, 'Replace');
    const undo = async () => {
      await Promise.all(
        indexes.map(([table, entity]) => this.table(table).deleteEntity(entity.partitionKey, entity.rowKey).catch(() => undefined)),
      );
      if (graceRow) await this.table(TABLES.patExpiry).deleteEntity(graceRow.partitionKey, graceRow.rowKey).catch(() => undefined);
    };
    try {
      await this.writeSnapshot(oldNext);
    } catch (error) {
      await undo();
      throw error;
    }
    const actions: TransactionAction[] = [
      ['update', toEntity(oldNext), 'Replace', { etag }],
      ['create', toEntity(created)],
      ...extra.map((entity): TransactionAction => ['create', entity]),
    ];
    try {
      await commitWithEvents(this.app, TABLES.pats, actions, events);
    } catch (error) {
      await undo();
      await this.resyncSnapshot(previous);
      throw error;
    }
    notifyWritten(oldNext.hash);
    if (oldNext.revokedAt && !previous.revokedAt) {
      const oldExpiry = expiryKeys(previous.validTo, previous.authorizationId);
      await ignoreMissing(this.table(TABLES.patExpiry).deleteEntity(oldExpiry.partitionKey, oldExpiry.rowKey)).catch(() => undefined);
    }
  }

  /** Removes the grace-period expiry row of a rotated PAT (after it was finalised). */
  async deleteGraceExpiryRow(record: PatRecord): Promise<void> {
    if (!record.graceEndsAt) return;
    const keys = expiryKeys(record.graceEndsAt, record.authorizationId);
    const row = await readEntity<{ kind?: string }>(this.table(TABLES.patExpiry), keys.partitionKey, keys.rowKey);
    // Only the grace row: when graceEndsAt equals validTo the row is the ordinary expiry entry.
    if (row?.kind === 'rotationGrace') await ignoreMissing(this.table(TABLES.patExpiry).deleteEntity(keys.partitionKey, keys.rowKey));
  }
}
