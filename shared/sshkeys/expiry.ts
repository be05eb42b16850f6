import type { AppContext } from '../app-context.js';
import { organizationEvent, systemAuditContext } from '../audit/context.js';
import { retryLostRaces } from '../storage/conditional.js';
import { SshKeyRepository, sshKeyStatusOf, type SshKeyRecord } from './repository.js';
import { sshKeyEventData } from './service.js';

/**
 * The contract with the lifecycle timer (shared/lifecycle): the `sshexpiry` table has exactly the
 * `patexpiry` layout (PK = `yyyyMMddHH` of validTo, RK = zero-padded validTo epoch ms + `_` +
 * authorizationId, columns ownerId, authorizationId, organizationId). The timer reads due rows and calls
 * `expireSshKeyIfDue` for each; the result tells it what to do with the row:
 * - 'expired': the key was marked expired now and Token.SshExpireEvent written (in one transaction);
 * - 'alreadyDone': an earlier call did that (the event is never written twice);
 * - 'notDue': the key's validTo is still ahead (it was extended; its new expiry row exists);
 * - 'gone': the key was removed or revoked (revoked keys leave the expiry lifecycle).
 * In every case but 'notDue' the row has done its job. Safe to call concurrently and repeatedly.
 */
export type SshExpiryOutcome = 'expired' | 'notDue' | 'gone' | 'alreadyDone';

export async function expireSshKeyIfDue(app: AppContext, ownerId: string, authorizationId: string, now: Date): Promise<SshExpiryOutcome> {
  const repository = new SshKeyRepository(app);
  return retryLostRaces<SshExpiryOutcome>(async () => {
    const stored = await repository.get(ownerId, authorizationId);
    if (!stored) return 'gone';
    const { record, etag } = stored;
    if (record.revokedAt) return 'gone';
    if (record.expiredEventAt) return 'alreadyDone';
    if (Date.parse(record.validTo) > now.getTime()) return 'notDue';
    const organization = (await app.directory.getOrganizationById(record.organizationId)) ?? { id: record.organizationId, name: '' };
    const owner = await app.directory.getUser(record.ownerId);
    const next: SshKeyRecord = { ...record, expiredEventAt: now.toISOString(), updatedAt: now.toISOString() };
    const event = organizationEvent(app, systemAuditContext(), organization, {
      actionId: 'Token.SshExpireEvent',
      data: sshKeyEventData(record, owner?.displayName ?? record.ownerId, { ExpiredAt: record.validTo }),
    });
    // Same validTo, so the expiry row stays where it is (the timer owns it from here).
    await repository.replace(record, etag, next, [event]);
    return 'expired';
  });
}

/** What the expiry notification ladder needs about a key; undefined when the key is gone. */
export interface SshKeyNotificationInfo {
  authorizationId: string;
  ownerId: string;
  ownerDisplayName: string | null;
  ownerEmail: string | null;
  organizationId: string;
  organizationName: string | null;
  displayName: string;
  fingerprint: string;
  keyType: string;
  validTo: string;
  status: 'active' | 'expired' | 'revoked';
  expiredEventAt: string | null;
}

export async function getSshKeyForNotification(app: AppContext, ownerId: string, authorizationId: string): Promise<SshKeyNotificationInfo | undefined> {
  const stored = await new SshKeyRepository(app).get(ownerId, authorizationId);
  if (!stored) return undefined;
  const { record } = stored;
  const [owner, organization] = await Promise.all([app.directory.getUser(record.ownerId), app.directory.getOrganizationById(record.organizationId)]);
  return {
    authorizationId: record.authorizationId,
    ownerId: record.ownerId,
    ownerDisplayName: owner?.displayName ?? null,
    ownerEmail: owner?.email ?? null,
    organizationId: record.organizationId,
    organizationName: organization?.name ?? null,
    displayName: record.displayName,
    fingerprint: record.fingerprint,
    keyType: record.keyType,
    validTo: record.validTo,
    status: sshKeyStatusOf(record, app.clock.now()),
    expiredEventAt: record.expiredEventAt,
  };
}
