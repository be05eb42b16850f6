import { odata, type TableEntity, type TransactionAction } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { commitWithEvents } from '../audit/outbox.js';
import type { AuditEvent } from '../audit/events.js';
import { restErrorStatus } from '../http/errors.js';
import { assertSafeKey, ignoreMissing, readAll, readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import type { RevocationKind } from '../tokens/repository.js';
import { expiryKeys } from '../storage/expiry-keys.js';
import type { SshKeyType } from '../tokens/ssh-key-types.js';

/**
 * SSH key storage (see the storage design in docs/architecture.md):
 * - sshkeys: PK = owner user id, RK = `ssh_<authorizationId>` (the record; outbox rows share the partition).
 * - sshkeyids: PK = authorizationId, RK = `ssh` → owner, organization (token admin revokes by id alone).
 * - sshfingerprints: PK = hex SHA-256 of the key blob, RK = organization id → owner + authorizationId.
 *   One row per key and organization: creating it is how a key is claimed, so two concurrent adds of
 *   the same key cannot both succeed; the key lookup reads the partition. Kept while the key is
 *   revoked or expired; removing the key frees it, except that a key revoked by an administrator stays
 *   blocked (`blocked = true`) in that organization.
 * - sshexpiry: exactly the `patexpiry` layout: PK = `yyyyMMddHH` of validTo, RK = zero-padded validTo
 *   ms + `_` + authorizationId, columns ownerId, authorizationId, organizationId. Revoked and removed
 *   keys leave it; the lifecycle timer reads it and calls `expireSshKeyIfDue` (expiry.ts).
 * Index rows are written before the record (and removed after), so a dangling index row can exist but
 * a record without its indexes cannot; readers verify index hits against the record.
 */

export interface SshKeyRecord {
  authorizationId: string;
  ownerId: string;
  /** The organization the key is registered in (keys are per organization). */
  organizationId: string;
  accessId: string;
  displayName: string;
  /** The normalised OpenSSH line (type, base64, comment). */
  publicData: string;
  fingerprint: string;
  fingerprintHex: string;
  keyType: SshKeyType;
  keySize: number;
  validFrom: string;
  validTo: string;
  revokedAt: string | null;
  revokedBy: string | null;
  revocationKind: RevocationKind | null;
  lastUsed: string | null;
  /** Set once Token.SshExpireEvent was emitted (by expireSshKeyIfDue). */
  expiredEventAt: string | null;
  updatedAt: string;
  /** Registered with a proof of possession of the private key (proof.ts): it cannot be taken over. */
  proven: boolean;
}

export interface StoredSshKey {
  record: SshKeyRecord;
  etag: string;
}

export type SshKeyStatus = 'active' | 'expired' | 'revoked';

/** Derived on read, so correctness never waits for the lifecycle timer. */
export function sshKeyStatusOf(record: SshKeyRecord, now: Date): SshKeyStatus {
  if (record.revokedAt) return 'revoked';
  return Date.parse(record.validTo) <= now.getTime() ? 'expired' : 'active';
}

export const sshKeyRowKey = (authorizationId: string) => `ssh_${authorizationId.toLowerCase()}`;
const INDEX_ROW = 'ssh';
/** A fingerprint claim whose key record never appeared is taken over after this long. */
const STALE_CLAIM_MS = 120_000;

function toEntity(record: SshKeyRecord): TableEntity {
  return {
    partitionKey: assertSafeKey(record.ownerId),
    rowKey: sshKeyRowKey(record.authorizationId),
    authorizationId: record.authorizationId,
    ownerId: record.ownerId,
    organizationId: record.organizationId,
    accessId: record.accessId,
    displayName: record.displayName,
    publicData: record.publicData,
    fingerprint: record.fingerprint,
    fingerprintHex: record.fingerprintHex,
    keyType: record.keyType,
    keySize: record.keySize,
    validFrom: record.validFrom,
    validTo: record.validTo,
    revokedAt: record.revokedAt ?? '',
    revokedBy: record.revokedBy ?? '',
    revocationKind: record.revocationKind ?? '',
    lastUsed: record.lastUsed ?? '',
    expiredEventAt: record.expiredEventAt ?? '',
    updatedAt: record.updatedAt,
    proven: record.proven,
  };
}

function fromEntity(row: Record<string, unknown>): SshKeyRecord {
  const str = (value: unknown) => (typeof value === 'string' ? value : '');
  return {
    authorizationId: str(row.authorizationId),
    ownerId: str(row.ownerId),
    organizationId: str(row.organizationId),
    accessId: str(row.accessId),
    displayName: str(row.displayName),
    publicData: str(row.publicData),
    fingerprint: str(row.fingerprint),
    fingerprintHex: str(row.fingerprintHex),
    keyType: str(row.keyType) as SshKeyType,
    keySize: Number(row.keySize) || 0,
    validFrom: str(row.validFrom),
    validTo: str(row.validTo),
    revokedAt: str(row.revokedAt) || null,
    revokedBy: str(row.revokedBy) || null,
    revocationKind: (str(row.revocationKind) || null) as RevocationKind | null,
    lastUsed: str(row.lastUsed) || null,
    expiredEventAt: str(row.expiredEventAt) || null,
    updatedAt: str(row.updatedAt),
    proven: row.proven === true,
  };
}

interface FingerprintRow {
  ownerId: string;
  authorizationId: string;
  claimedAt: string;
  blocked?: boolean;
  proven?: boolean;
}

/** Thrown by `create` when the organization already has the key (or blocks it). */
export class DuplicateSshKeyError extends Error {
  constructor(readonly blocked: boolean) {
    super('duplicate SSH key');
    this.name = 'DuplicateSshKeyError';
  }
}

export interface FingerprintHit {
  organizationId: string;
  ownerId: string;
  authorizationId: string;
}

export class SshKeyRepository {
  constructor(private readonly app: AppContext) {}

  private table(name: string) {
    return this.app.storage.table(name);
  }

  async listByOwner(ownerId: string): Promise<StoredSshKey[]> {
    const rows = await readAll<Record<string, unknown>>(
      this.table(TABLES.sshKeys),
      odata`PartitionKey eq ${assertSafeKey(ownerId)} and RowKey ge ${'ssh_'} and RowKey lt ${'ssh`'}`,
    );
    return rows.map((row) => ({ record: fromEntity(row), etag: row.etag }));
  }

  async get(ownerId: string, authorizationId: string): Promise<StoredSshKey | undefined> {
    const row = await readEntity<Record<string, unknown>>(this.table(TABLES.sshKeys), assertSafeKey(ownerId), sshKeyRowKey(authorizationId));
    return row ? { record: fromEntity(row), etag: row.etag } : undefined;
  }

  /** The key of an authorization id, through the id index (verified against the record). */
  async getById(authorizationId: string): Promise<StoredSshKey | undefined> {
    const index = await readEntity<{ ownerId: string }>(this.table(TABLES.sshKeyIds), authorizationId.toLowerCase(), INDEX_ROW);
    if (!index) return undefined;
    return this.get(index.ownerId, authorizationId);
  }

  /** Every organization's registration of a key, by the hex SHA-256 of its blob (unverified hits). */
  async findByFingerprint(fingerprintHex: string): Promise<FingerprintHit[]> {
    const rows = await readAll<FingerprintRow>(this.table(TABLES.sshFingerprints), odata`PartitionKey eq ${assertSafeKey(fingerprintHex)}`);
    return rows
      .filter((row) => !row.blocked && row.authorizationId)
      .map((row) => ({ organizationId: row.rowKey ?? '', ownerId: row.ownerId, authorizationId: row.authorizationId }));
  }

  /**
   * Claims the fingerprint in the organization: an insert, so of two concurrent claims only one
   * succeeds. A claim left by a create that died before writing its record is taken over once stale,
   * and a proven registration takes over another user's unproven one (answered so it can be revoked).
   */
  private async claimFingerprint(record: SshKeyRecord): Promise<{ ownerId: string; authorizationId: string } | undefined> {
    const table = this.table(TABLES.sshFingerprints);
    const entity = {
      partitionKey: record.fingerprintHex,
      rowKey: record.organizationId,
      ownerId: record.ownerId,
      authorizationId: record.authorizationId,
      claimedAt: record.validFrom,
      blocked: false,
      proven: record.proven,
    };
    try {
      await table.createEntity(entity);
      return undefined;
    } catch (error) {
      if (restErrorStatus(error) !== 409) throw error;
    }
    const existing = await readEntity<FingerprintRow>(table, entity.partitionKey, entity.rowKey);
    if (!existing) throw new DuplicateSshKeyError(false);
    if (existing.blocked) throw new DuplicateSshKeyError(true);
    const squatted = record.proven && !existing.proven && existing.ownerId !== record.ownerId;
    const stale =
      Date.parse(existing.claimedAt) < Date.parse(record.validFrom) - STALE_CLAIM_MS && !(await this.get(existing.ownerId, existing.authorizationId));
    if (!stale && !squatted) throw new DuplicateSshKeyError(false);
    try {
      await table.updateEntity(entity, 'Replace', { etag: existing.etag });
    } catch (error) {
      if (restErrorStatus(error) === 412) throw new DuplicateSshKeyError(false);
      throw error;
    }
    return squatted ? { ownerId: existing.ownerId, authorizationId: existing.authorizationId } : undefined;
  }

  /**
   * Claims the fingerprint, writes the id and expiry rows, then the record and its events in one
   * transaction. Answers the unproven registration the claim was taken from, if any.
   */
  async create(record: SshKeyRecord, events: readonly AuditEvent[]): Promise<{ ownerId: string; authorizationId: string } | undefined> {
    const superseded = await this.claimFingerprint(record);
    const expiry = expiryKeys(record.validTo, record.authorizationId);
    const indexes: [string, TableEntity][] = [
      [TABLES.sshFingerprints, { partitionKey: record.fingerprintHex, rowKey: record.organizationId }],
      [TABLES.sshKeyIds, { partitionKey: record.authorizationId, rowKey: INDEX_ROW, ownerId: record.ownerId, organizationId: record.organizationId }],
      [TABLES.sshExpiry, { ...expiry, ownerId: record.ownerId, authorizationId: record.authorizationId, organizationId: record.organizationId }],
    ];
    try {
      await Promise.all(indexes.slice(1).map(([table, entity]) => this.table(table).createEntity(entity)));
      await commitWithEvents(this.app, TABLES.sshKeys, [['create', toEntity(record)]], events);
      return superseded;
    } catch (error) {
      await Promise.all(
        indexes.map(([table, entity]) => ignoreMissing(this.table(table).deleteEntity(entity.partitionKey, entity.rowKey)).catch(() => undefined)),
      );
      throw error;
    }
  }

  /**
   * Replaces the record if it still has `etag` (412 from storage otherwise, nothing written) and keeps
   * the expiry index in step: a new expiry row before, the old one removed after; revoked keys leave
   * the expiry index.
   */
  async replace(previous: SshKeyRecord, etag: string, next: SshKeyRecord, events: readonly AuditEvent[]): Promise<void> {
    const oldExpiry = previous.revokedAt ? undefined : expiryKeys(previous.validTo, previous.authorizationId);
    const newExpiry = next.revokedAt ? undefined : expiryKeys(next.validTo, next.authorizationId);
    const same = oldExpiry && newExpiry && oldExpiry.partitionKey === newExpiry.partitionKey && oldExpiry.rowKey === newExpiry.rowKey;
    const expiryTable = this.table(TABLES.sshExpiry);
    if (newExpiry && !same) {
      await expiryTable.upsertEntity(
        { ...newExpiry, ownerId: next.ownerId, authorizationId: next.authorizationId, organizationId: next.organizationId },
        'Replace',
      );
    }
    const action: TransactionAction = ['update', toEntity(next), 'Replace', { etag }];
    try {
      await commitWithEvents(this.app, TABLES.sshKeys, [action], events);
    } catch (error) {
      if (newExpiry && !same) await ignoreMissing(expiryTable.deleteEntity(newExpiry.partitionKey, newExpiry.rowKey)).catch(() => undefined);
      throw error;
    }
    if (oldExpiry && !same) {
      await ignoreMissing(expiryTable.deleteEntity(oldExpiry.partitionKey, oldExpiry.rowKey)).catch((error: unknown) => {
        this.app.log.warn('stale SSH expiry index row left for the sweeper', { status: restErrorStatus(error) ?? null });
      });
    }
  }

  /**
   * Deletes the record with its event in one transaction, then its index rows. The fingerprint is
   * freed, or kept as a block when `block` (a key an administrator revoked stays out of the organization).
   */
  async remove(record: SshKeyRecord, events: readonly AuditEvent[], block: boolean): Promise<void> {
    await commitWithEvents(
      this.app,
      TABLES.sshKeys,
      [['delete', { partitionKey: assertSafeKey(record.ownerId), rowKey: sshKeyRowKey(record.authorizationId) }]],
      events,
    );
    const expiry = expiryKeys(record.validTo, record.authorizationId);
    const fingerprints = this.table(TABLES.sshFingerprints);
    const cleanup = async () => {
      await ignoreMissing(this.table(TABLES.sshExpiry).deleteEntity(expiry.partitionKey, expiry.rowKey));
      await ignoreMissing(this.table(TABLES.sshKeyIds).deleteEntity(record.authorizationId, INDEX_ROW));
      const claim = await readEntity<FingerprintRow>(fingerprints, record.fingerprintHex, record.organizationId);
      if (!claim || claim.authorizationId !== record.authorizationId || claim.blocked) return;
      if (block) {
        await fingerprints.updateEntity(
          { partitionKey: record.fingerprintHex, rowKey: record.organizationId, blocked: true, blockedAt: this.app.clock.now().toISOString() },
          'Merge',
          { etag: claim.etag },
        );
      } else {
        await ignoreMissing(fingerprints.deleteEntity(record.fingerprintHex, record.organizationId, { etag: claim.etag }));
      }
    };
    await cleanup().catch((error: unknown) => {
      this.app.log.warn('SSH key index rows left after removal', { status: restErrorStatus(error) ?? null });
    });
  }

  /** Records a use of the key (etag-conditional; a lost race means another request recorded it). */
  async touchLastUsed(stored: StoredSshKey, now: Date): Promise<void> {
    const { record, etag } = stored;
    try {
      await this.table(TABLES.sshKeys).updateEntity(
        { partitionKey: assertSafeKey(record.ownerId), rowKey: sshKeyRowKey(record.authorizationId), lastUsed: now.toISOString() },
        'Merge',
        { etag },
      );
    } catch (error) {
      const status = restErrorStatus(error);
      if (status !== 412 && status !== 404) throw error;
    }
  }
}
