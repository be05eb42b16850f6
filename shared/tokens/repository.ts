import { odata, type TableEntity, type TransactionAction } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { commitWithEvents } from '../audit/outbox.js';
import type { AuditEvent } from '../audit/events.js';
import { restErrorStatus } from '../http/errors.js';
import { assertSafeKey, parseJsonColumn, readAll, readEntity } from '../storage/entities.js';
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
const INDEX_ROW = 'pat';

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
    authorizationId: record.authorizationId,
    ownerId: record.ownerId,
    accessId: record.accessId,
    displayName: record.displayName,
    scope: record.scope,
    targetAccounts: record.targetAccounts === null ? '' : JSON.stringify(record.targetAccounts),
    isGlobal: record.targetAccounts === null,
    validFrom: record.validFrom,
    validTo: record.validTo,
    revokedAt: record.revokedAt ?? '',
    revokedBy: record.revokedBy ?? '',
    revocationKind: record.revocationKind ?? '',
    pepperVersion: record.pepperVersion,
    hash: record.hash,
    organizationId: record.organizationId,
    updatedAt: record.updatedAt,
  };
}

function fromEntity(row: Record<string, unknown>): PatRecord {
  const str = (value: unknown) => (typeof value === 'string' ? value : '');
  return {
    authorizationId: str(row.authorizationId),
    ownerId: str(row.ownerId),
    accessId: str(row.accessId),
    displayName: str(row.displayName),
    scope: str(row.scope),
    targetAccounts: row.isGlobal === true ? null : parseJsonColumn<string[]>(row.targetAccounts, []),
    validFrom: str(row.validFrom),
    validTo: str(row.validTo),
    revokedAt: str(row.revokedAt) || null,
    revokedBy: str(row.revokedBy) || null,
    revocationKind: (str(row.revocationKind) || null) as RevocationKind | null,
    pepperVersion: str(row.pepperVersion),
    hash: str(row.hash),
    organizationId: str(row.organizationId),
    updatedAt: str(row.updatedAt),
  };
}

async function ignoreMissing(operation: Promise<unknown>): Promise<void> {
  try {
    await operation;
  } catch (error) {
    if (restErrorStatus(error) !== 404) throw error;
  }
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

  /** Writes the indexes, then the record and its events in one transaction. */
  async create(record: PatRecord, events: readonly AuditEvent[]): Promise<void> {
    const expiry = expiryKeys(record.validTo, record.authorizationId);
    const indexes: [string, TableEntity][] = [
      [TABLES.patHashes, { partitionKey: record.hash, rowKey: INDEX_ROW, ownerId: record.ownerId, authorizationId: record.authorizationId }],
      [TABLES.patIds, { partitionKey: record.authorizationId, rowKey: INDEX_ROW, ownerId: record.ownerId }],
      [TABLES.patExpiry, { ...expiry, ownerId: record.ownerId, authorizationId: record.authorizationId }],
    ];
    await Promise.all(indexes.map(([table, entity]) => this.table(table).createEntity(entity)));
    try {
      await commitWithEvents(this.app, TABLES.pats, [['create', toEntity(record)]], events);
    } catch (error) {
      await Promise.all(
        indexes.map(([table, entity]) => this.table(table).deleteEntity(entity.partitionKey, entity.rowKey).catch(() => undefined)),
      );
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
    const action: TransactionAction = ['update', toEntity(next), 'Replace', { etag }];
    try {
      await commitWithEvents(this.app, TABLES.pats, [action], events);
    } catch (error) {
      if (newExpiry && !same) await ignoreMissing(expiryTable.deleteEntity(newExpiry.partitionKey, newExpiry.rowKey)).catch(() => undefined);
      throw error;
    }
    if (oldExpiry && !same) {
      await ignoreMissing(expiryTable.deleteEntity(oldExpiry.partitionKey, oldExpiry.rowKey)).catch((error: unknown) => {
        this.app.log.warn('stale expiry index row left for the sweeper', { status: restErrorStatus(error) ?? null });
      });
    }
  }
}
