import { createHash } from 'node:crypto';
import { odata, type TableEntity } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import { organizationEvent, systemAuditContext, systemAuditContextWithin, SYSTEM_ACTOR, type AuditContext } from '../audit/context.js';
import type { AuditEvent } from '../audit/events.js';
import type { Organization } from '../directory/repository.js';
import { AppError, badRequest, sessionTokenFailure } from '../http/errors.js';
import { retryLostRaces } from '../storage/conditional.js';
import { readAll, readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import type { IndexEffect } from '../audit/outbox.js';
import { bucketOf, purgeEffect, purgeTargetOf } from '../storage/expiry-keys.js';
import { enforceLayersOnCreate, policyLayers } from './policies.js';
import { ownerPartitionOf, PatRepository, patPartitionOf, statusOf, type PatOwnerIdentity, type PatRecord } from './repository.js';
import type { PatTokenView } from './schemas.js';
import { seal, sealedFromColumns, unseal, type SealedStore } from '../secrets/sealing.js';
import { issuePatRecord, isVisibleIn, MAX_LIFETIME_DAYS, patEventData, patView, revokeStoredPat } from './service.js';
import { DAY_MS } from '../time.js';

/**
 * PAT rotation: a new secret as a new authorization with the same name, scopes and targets and a
 * policy-clamped validTo (the old token's lifetime, counted from now), returned once. The old secret
 * keeps working for `gracePeriodMinutes` (0–1440): the old record gets `rotatedTo` and `graceEndsAt`,
 * which the authenticator enforces at read time, so correctness never waits for a timer. A
 * `patexpiry` row at graceEndsAt lets the lifecycle timer finalise it with `endGraceIfDue`.
 *
 * `Idempotency-Key`: the answer of a rotation made with a key is kept for 24 hours, encrypted with
 * AES-256-GCM under a key derived (HKDF) from the pepper, in the owner's partition, and written in the
 * same transaction as the rotation itself; a retry with the same key returns the same new token and
 * never issues a second one. Without the key, rotating an already-rotated PAT is a 409 naming its
 * successor.
 */

export const MAX_GRACE_MINUTES = 1440;
export const IDEMPOTENCY_WINDOW_MS = DAY_MS;
const IDEMPOTENCY_PREFIX = 'idem_';
const ROTATION_SEAL = 'pat-rotation-idempotency';

/** Checks an `Idempotency-Key` header: 1–128 visible ASCII characters, else 400 invalidIdempotencyKey. */
export function idempotencyKeyOf(value: string | null): string | undefined {
  if (value === null) return undefined;
  if (!/^[\x21-\x7e]{1,128}$/.test(value)) {
    throw badRequest('invalidIdempotencyKey', 'Idempotency-Key must be 1 to 128 visible ASCII characters.');
  }
  return value;
}

const idempotencyRowKey = (authorizationId: string, key: string) =>
  `${IDEMPOTENCY_PREFIX}${authorizationId.toLowerCase()}_${createHash('sha256').update(key, 'utf8').digest('hex').slice(0, 40)}`;

/** What a rotation reply's seal is bound to: the two authorizations and the row it is stored in. */
const replyContext = (oldAuthorizationId: string, newAuthorizationId: string, rowKey: string) => `${oldAuthorizationId}|${newAuthorizationId}|${rowKey}`;

interface IdempotencyRow {
  oldAuthorizationId: string;
  newAuthorizationId: string;
  /** The new token, sealed (shared/tokens/sealing.ts). */
  sealed: string;
  /** Rows written before sealed values named their version keep it here. */
  pepperVersion?: string;
  expiresAt: string;
}

const sealedReplyOf = (row: IdempotencyRow) => sealedFromColumns(row.pepperVersion ?? '', row.sealed);

export interface RotationRequest {
  readonly organization: Organization;
  readonly audit: AuditContext;
  readonly ownerId: string;
  readonly owner: PatOwnerIdentity;
  readonly authorizationId: string;
  readonly gracePeriodMinutes: number;
  readonly idempotencyKey: string | undefined;
  /**
   * Whether the successor may outlive the rotated PAT. An owner's rotation with a user token may; a
   * PAT rotating itself may not, so a leaked PAT cannot renew itself for ever.
   */
  readonly mayExtend: boolean;
}

const notFoundFailure = (authorizationId: string) =>
  sessionTokenFailure(404, 'authorizationNotFound', `No PAT with authorizationId '${authorizationId}' was found.`);

export const alreadyRotated = (successor: string) =>
  new AppError(409, 'patAlreadyRotated', `This PAT was already rotated; its successor is authorizationId '${successor}'.`, {
    details: { successorAuthorizationId: successor },
  });

/** Rotates a PAT of `ownerId`; see the module comment. */
export async function rotatePat(app: AppContext, request: RotationRequest): Promise<PatTokenView> {
  const { organization, ownerId, authorizationId, idempotencyKey } = request;
  if (!Number.isInteger(request.gracePeriodMinutes) || request.gracePeriodMinutes < 0 || request.gracePeriodMinutes > MAX_GRACE_MINUTES) {
    throw badRequest('invalidGracePeriod', `gracePeriodMinutes must be an integer from 0 to ${MAX_GRACE_MINUTES}.`);
  }
  const repository = new PatRepository(app);
  await purgeRotationIdempotency(app, ownerId).catch(() => undefined);
  // A lost race starts over: the next round sees the winner (same key: its answer; otherwise 409).
  return retryLostRaces(async () => {
    const now = app.clock.now();
    const stored = await repository.get(ownerId, authorizationId);
    if (!stored) throw notFoundFailure(authorizationId);
    const { record, etag } = stored;
    if (!isVisibleIn(record, organization.id)) {
      throw sessionTokenFailure(403, 'accessDenied', 'This PAT belongs to another organization; rotate it there.');
    }
    const rowKey = idempotencyKey === undefined ? undefined : idempotencyRowKey(authorizationId, idempotencyKey);
    if (rowKey) {
      const replay = await replayRotation(app, ownerId, authorizationId, rowKey, now);
      if (replay) return replay;
    }
    if (record.rotatedTo) throw alreadyRotated(record.rotatedTo);
    const status = statusOf(record, now);
    if (status === 'revoked') throw sessionTokenFailure(409, 'failedToUpdateAccessToken', 'This PAT has been revoked and cannot be rotated.');
    if (status === 'expired') throw sessionTokenFailure(400, 'expiredPatCannotBeExtended', 'This PAT has expired and cannot be rotated; create a new one.');

    const scopes = record.scope.split(' ');
    const lifetime = Math.min(Date.parse(record.validTo) - Date.parse(record.validFrom), MAX_LIFETIME_DAYS * DAY_MS);
    const fresh = now.getTime() + Math.max(lifetime, 60_000);
    const requested = new Date(request.mayExtend ? fresh : Math.min(fresh, Date.parse(record.validTo)));
    const layers = await policyLayers(app, organization);
    const validTo = enforceLayersOnCreate(layers, ownerId, { scopes, global: record.targetAccounts === null, validTo: requested }, now);

    const { record: created, token } = issuePatRecord(app, {
      ownerId,
      displayName: record.displayName,
      scope: record.scope,
      targetAccounts: record.targetAccounts === null ? null : [...record.targetAccounts],
      organizationId: organization.id,
      validTo,
      now,
    });
    // A successor carries its lineage: revocation rules and per-organization revocations still hold.
    created.lineageStartedAt = record.lineageStartedAt ?? record.validFrom;
    created.blockedIn = [...(record.blockedIn ?? [])];
    const iso = now.toISOString();
    const graceEndsAt = new Date(now.getTime() + request.gracePeriodMinutes * 60_000).toISOString();
    const immediate = request.gracePeriodMinutes === 0;
    const oldNext: PatRecord = {
      ...record,
      rotatedTo: created.authorizationId,
      graceEndsAt,
      updatedAt: iso,
      ...(immediate ? { revokedAt: iso, revokedBy: SYSTEM_ACTOR.id, revocationKind: 'system' as const, revocationReason: 'rotated' } : {}),
    };
    const events: AuditEvent[] = [
      organizationEvent(app, request.audit, organization, {
        actionId: 'Token.PatRotateEvent',
        data: patEventData(created, request.owner.displayName, {
          PreviousAuthorizationId: record.authorizationId,
          GracePeriodMinutes: request.gracePeriodMinutes,
          PreviousGraceEndsAt: graceEndsAt,
          IdempotencyKeyUsed: idempotencyKey !== undefined,
        }),
      }),
    ];
    if (immediate) {
      events.push(
        organizationEvent(app, systemAuditContextWithin(request.audit), organization, {
          actionId: 'Token.PatSystemRevokeEvent',
          data: patEventData(oldNext, request.owner.displayName, { RevocationKind: 'system', Reason: 'rotated', RotatedTo: created.authorizationId }),
        }),
      );
    }
    const extra: TableEntity[] = [];
    const purges: IndexEffect[] = [];
    if (rowKey) {
      extra.push({
        partitionKey: patPartitionOf(authorizationId),
        rowKey,
        oldAuthorizationId: record.authorizationId,
        newAuthorizationId: created.authorizationId,
        sealed: seal(app.config.peppers, ROTATION_SEAL, token, replyContext(record.authorizationId, created.authorizationId, rowKey)),
        expiresAt: new Date(now.getTime() + IDEMPOTENCY_WINDOW_MS).toISOString(),
      });
      // The replay decrypts to a live token: the lifecycle timer deletes it once its window is over.
      const expiresAt = new Date(now.getTime() + IDEMPOTENCY_WINDOW_MS).toISOString();
      purges.push(purgeEffect(TABLES.patExpiry, expiresAt, { table: TABLES.pats, partitionKey: patPartitionOf(authorizationId), rowKey }));
    }
    await repository.rotate(record, etag, oldNext, created, request.owner, extra, events, purges);
    return patView(created, token);
  });
}

async function replayRotation(app: AppContext, ownerId: string, authorizationId: string, rowKey: string, now: Date): Promise<PatTokenView | undefined> {
  const table = app.storage.table(TABLES.pats);
  const partition = patPartitionOf(authorizationId);
  const row = await readEntity<IdempotencyRow>(table, partition, rowKey);
  if (!row) return undefined;
  if (Date.parse(row.expiresAt) <= now.getTime()) {
    await table.deleteEntity(partition, rowKey).catch(() => undefined);
    return undefined;
  }
  const token = unseal(app.config.peppers, ROTATION_SEAL, sealedReplyOf(row), replyContext(row.oldAuthorizationId, row.newAuthorizationId, rowKey));
  const successor = await new PatRepository(app).get(ownerId, row.newAuthorizationId);
  if (!token || !successor) return undefined;
  return patView(successor.record, token);
}

/**
 * Live rotation replies for the re-seal after a pepper rotation, found through their purge rows in
 * `patexpiry` (due within the next 24 hours) rather than by scanning `pats`.
 */
export const rotationReplyStore: SealedStore = {
  name: 'rotationReplies',
  purpose: ROTATION_SEAL,
  async *list(app) {
    const now = app.clock.now().getTime();
    const pats = app.storage.table(TABLES.pats);
    const due = odata`PartitionKey ge ${bucketOf(now)} and PartitionKey le ${bucketOf(now + IDEMPOTENCY_WINDOW_MS)} and purgeTable eq ${TABLES.pats}`;
    for await (const index of app.storage.table(TABLES.patExpiry).listEntities({ queryOptions: { filter: due } })) {
      const target = purgeTargetOf(index);
      if (!target?.rowKey.startsWith(IDEMPOTENCY_PREFIX)) continue;
      const row = await readEntity<IdempotencyRow>(pats, target.partitionKey, target.rowKey);
      if (!row || Date.parse(row.expiresAt) <= now) continue;
      const { partitionKey, rowKey } = target;
      const { etag, oldAuthorizationId, newAuthorizationId, expiresAt } = row;
      yield {
        sealed: sealedReplyOf(row),
        context: replyContext(oldAuthorizationId, newAuthorizationId, rowKey),
        replace: (resealed) =>
          pats.updateEntity({ partitionKey, rowKey, oldAuthorizationId, newAuthorizationId, sealed: resealed, expiresAt }, 'Replace', { etag }),
      };
    }
  },
};

/** Deletes the idempotency records in an owner's partition older than the 24-hour window (the timer may call it too). */
export async function purgeRotationIdempotency(app: AppContext, ownerId: string): Promise<number> {
  const table = app.storage.table(TABLES.pats);
  const partition = ownerPartitionOf(ownerId);
  const rows = await readAll<IdempotencyRow>(table, odata`PartitionKey eq ${partition} and RowKey ge ${IDEMPOTENCY_PREFIX} and RowKey lt ${'idem`'}`);
  const now = app.clock.now().getTime();
  let deleted = 0;
  for (const row of rows) {
    if (Date.parse(row.expiresAt) > now) continue;
    await table.deleteEntity(partition, row.rowKey ?? '').catch(() => undefined);
    deleted++;
  }
  return deleted;
}

/**
 * Ends the grace period of a rotated PAT once `now` has reached graceEndsAt: marks it revoked
 * (kind 'system', reason 'rotated') with one Token.PatSystemRevokeEvent, guarded by the record's
 * ETag, and removes its grace expiry row. Idempotent: true only for the call that revoked it. The
 * authenticator already refuses the old secret from graceEndsAt on, whether or not this ran.
 */
export async function endGraceIfDue(app: AppContext, ownerId: string, authorizationId: string, now: Date = app.clock.now()): Promise<boolean> {
  const repository = new PatRepository(app);
  const stored = await repository.get(ownerId, authorizationId);
  if (!stored) return false;
  const { record } = stored;
  if (!record.rotatedTo || !record.graceEndsAt) return false;
  if (record.revokedAt) {
    await repository.deleteGraceExpiryRow(record).catch(() => undefined);
    return false;
  }
  if (Date.parse(record.graceEndsAt) > now.getTime()) return false;
  const organization = (await app.directory.getOrganizationById(record.organizationId)) ?? { id: record.organizationId, name: 'unknown' };
  const ownerName = (await app.directory.getUser(record.ownerId))?.displayName ?? record.ownerId;
  const revoked = await revokeStoredPat(
    { app, organization, audit: systemAuditContext() },
    stored,
    { kind: 'system', ownerName },
    {
      Reason: 'rotated',
      RotatedTo: record.rotatedTo,
      GraceEndsAt: record.graceEndsAt,
    },
  );
  await repository.deleteGraceExpiryRow(record).catch(() => undefined);
  return revoked;
}
