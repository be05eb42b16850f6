import { randomUUID } from 'node:crypto';
import { organizationEvent } from '../audit/context.js';
import type { AuditEvent } from '../audit/events.js';
import { sshKeyFailure } from '../http/errors.js';
import { retryLostRaces } from '../storage/conditional.js';
import { memberOwnerOf, ownerName, sessionTokenViewOf, type SessionTokenSource } from '../tokens/session-tokens.js';
import { findGatehouseTokens } from '../secrets/format.js';
import { keysetPager, type KeysetList } from '../tokens/listing.js';
import { enforcedPolicies, type TokenPolicyDocument } from '../tokens/policies.js';
import type { SessionTokenView } from '../tokens/schemas.js';
import { credentialContextOf, MAX_LIFETIME_DAYS, validToOrFail, type AuditedChange, type CredentialContext, type Revocation } from '../tokens/service.js';
import type { OrganizationScope } from '../request-scope.js';
import type { UserCaller } from '../auth/caller.js';
import { looksLikePrivateKey, parsePublicKey } from './keys.js';
import type { CredentialFacts } from '../tokens/judge.js';
import { verifyProofOfPossession } from './proof.js';
import { DuplicateSshKeyError, SshKeyRepository, sshKeyStatusOf, type SshKeyRecord, type StoredSshKey } from './repository.js';
import type { SshKeyCreateRequest, SshKeysGetQuery, SshKeyUpdateRequest, SshKeyView } from './schemas.js';
import { DAY_MS } from '../time.js';

/** The furthest a validTo may lie ahead when no lifespan policy clamps it (as for PATs). */
export { MAX_LIFETIME_DAYS };

export type SshKeyContext = CredentialContext;

export const sshKeyContextOf: (scope: OrganizationScope<UserCaller>) => SshKeyContext = credentialContextOf;

export function sshKeyView(record: SshKeyRecord, now: Date): SshKeyView {
  const status = sshKeyStatusOf(record, now);
  return {
    authorizationId: record.authorizationId,
    displayName: record.displayName,
    publicData: record.publicData,
    fingerprint: record.fingerprint,
    keyType: record.keyType,
    keySize: record.keySize,
    validFrom: record.validFrom,
    validTo: record.validTo,
    isValid: status === 'active',
    status,
    lastUsed: record.lastUsed,
    proven: record.proven,
  };
}

/** The audit `data` of an SSH key event (the public key is public; it identifies the key in the trail). */
export function sshKeyEventData(record: SshKeyRecord, ownerName: string, extra: Record<string, unknown> = {}) {
  return {
    AuthorizationId: record.authorizationId,
    DisplayName: record.displayName,
    Fingerprint: record.fingerprint,
    KeyType: record.keyType,
    KeySize: record.keySize,
    PublicData: record.publicData,
    ValidFrom: record.validFrom,
    ValidTo: record.validTo,
    OwnerId: record.ownerId,
    OwnerName: ownerName,
    TokenType: 'SshPublicKey',
    ...extra,
  };
}

// ---- policies ------------------------------------------------------------------------------------

type SshPolicy = TokenPolicyDocument['sshKeys'];
const exempt = (policy: SshPolicy, userId: string) => policy.exemptUsers.includes(userId.toLowerCase());

function refuseIfDisabled(policy: SshPolicy): void {
  if (!policy.allowed) throw sshKeyFailure(403, 'sshPolicyDisabled', 'This organization does not allow SSH keys.');
}

function enforceKeyShape(policy: SshPolicy, userId: string, key: Pick<SshKeyRecord, 'keyType' | 'keySize'>): void {
  if (exempt(policy, userId)) return;
  if (!policy.allowedKeyTypes.includes(key.keyType)) {
    throw sshKeyFailure(403, 'keyTypePolicyViolation', `This organization does not allow ${key.keyType} keys; allowed: ${policy.allowedKeyTypes.join(', ')}.`);
  }
  if (key.keyType === 'ssh-rsa' && key.keySize < policy.minimumRsaBits) {
    throw sshKeyFailure(403, 'rsaKeySizePolicyViolation', `This organization requires RSA keys of at least ${policy.minimumRsaBits} bits.`);
  }
}

function clampLifespan(policy: SshPolicy, userId: string, from: Date, validTo: Date): Date {
  if (policy.maxLifespanDays === null || exempt(policy, userId)) return validTo;
  const limit = from.getTime() + policy.maxLifespanDays * DAY_MS;
  return validTo.getTime() > limit ? new Date(limit) : validTo;
}

/** Whether a stored key may be used under the current policy (key lookups skip keys that may not). */
/** What the credential judge needs to know of an SSH key (keys belong to one organization). */
export function sshKeyFactsOf(record: SshKeyRecord, ownerTenantId: string): CredentialFacts {
  return {
    kind: 'sshKey',
    ownerId: record.ownerId,
    ownerTenantId,
    issuedIn: record.organizationId,
    targets: [record.organizationId],
    blockedIn: [],
    validFrom: record.validFrom,
    lineageStartedAt: record.validFrom,
    validTo: record.validTo,
    revokedAt: record.revokedAt,
    graceEndsAt: null,
    scopes: [],
    sshKey: { keyType: record.keyType, keySize: record.keySize },
  };
}

function checkDisplayName(displayName: string): void {
  if (looksLikePrivateKey(displayName)) {
    throw sshKeyFailure(400, 'privateKeyNotAllowed', 'The display name contains a private key; nothing was stored.');
  }
}

// ---- create, get, update, revoke, remove -----------------------------------------------------------

export async function createSshKey(ctx: SshKeyContext, body: SshKeyCreateRequest): Promise<SshKeyView> {
  const { app, caller, organization } = ctx;
  const now = app.clock.now();
  checkDisplayName(body.displayName);
  const parsed = await parsePublicKey(body.publicData);
  if (findGatehouseTokens(parsed.publicData).length > 0) {
    throw sshKeyFailure(400, 'invalidPublicKey', 'The key comment contains a personal access token; nothing was stored.');
  }
  if (body.proofOfPossession) {
    verifyProofOfPossession(app, body.proofOfPossession, { fingerprintHex: parsed.fingerprintHex, userId: caller.id, organizationId: organization.id });
  }
  const requested = body.validTo === undefined ? undefined : validToOrFail(body.validTo, now);
  const policy = (await enforcedPolicies(app, organization.id)).sshKeys;
  refuseIfDisabled(policy);
  enforceKeyShape(policy, caller.id, parsed);
  const wanted = requested ?? new Date(now.getTime() + policy.defaultLifespanDays * DAY_MS);
  const validTo = clampLifespan(policy, caller.id, now, wanted);

  const record: SshKeyRecord = {
    authorizationId: randomUUID(),
    ownerId: caller.id,
    organizationId: organization.id,
    accessId: randomUUID(),
    displayName: body.displayName,
    publicData: parsed.publicData,
    fingerprint: parsed.fingerprint,
    fingerprintHex: parsed.fingerprintHex,
    keyType: parsed.keyType,
    keySize: parsed.keySize,
    validFrom: now.toISOString(),
    validTo: validTo.toISOString(),
    revokedAt: null,
    revokedBy: null,
    revocationKind: null,
    lastUsed: null,
    expiredEventAt: null,
    updatedAt: now.toISOString(),
    proven: body.proofOfPossession !== undefined,
  };
  const event = organizationEvent(app, ctx.audit, organization, {
    actionId: 'Token.SshCreateEvent',
    data: sshKeyEventData(record, caller.displayName, wanted.getTime() !== validTo.getTime() ? { RequestedValidTo: wanted.toISOString() } : {}),
  });
  const repository = new SshKeyRepository(app);
  try {
    const superseded = await repository.create(record, [event]);
    // The key was registered first by another user who never proved holding it: that registration ends.
    const squatter = superseded ? await repository.get(superseded.ownerId, superseded.authorizationId) : undefined;
    if (squatter && !squatter.record.revokedAt) {
      await revokeStoredSshKey(ctx, squatter, { kind: 'system', ownerName: await ownerName(app, squatter.record.ownerId) });
    }
  } catch (error) {
    if (error instanceof DuplicateSshKeyError) {
      throw sshKeyFailure(
        409,
        'duplicateHash',
        error.blocked
          ? 'An administrator revoked this key in this organization; generate a new key.'
          : 'This key is already registered in this organization (by you, or by someone who proved holding it); each key can be registered once. If someone else registered your key, add it with a proofOfPossession.',
      );
    }
    throw error;
  }
  return sshKeyView(record, now);
}

async function ownVisible(ctx: SshKeyContext, authorizationId: string): Promise<StoredSshKey> {
  const stored = await new SshKeyRepository(ctx.app).get(ctx.caller.id, authorizationId);
  if (!stored) throw sshKeyFailure(404, 'authorizationNotFound', `No SSH key with authorizationId '${authorizationId}' was found.`);
  if (stored.record.organizationId !== ctx.organization.id) {
    throw sshKeyFailure(403, 'accessDenied', 'This SSH key belongs to another organization; manage it there.');
  }
  return stored;
}

export async function getSshKey(ctx: SshKeyContext, authorizationId: string): Promise<SshKeyView> {
  return sshKeyView((await ownVisible(ctx, authorizationId)).record, ctx.app.clock.now());
}

export async function updateSshKey(ctx: SshKeyContext, body: SshKeyUpdateRequest): Promise<SshKeyView> {
  const { app, caller, organization } = ctx;
  if (body.displayName !== undefined) checkDisplayName(body.displayName);
  return retryLostRaces(async () => {
    const now = app.clock.now();
    const { record, etag } = await ownVisible(ctx, body.authorizationId);
    const status = sshKeyStatusOf(record, now);
    if (status === 'revoked') {
      throw sshKeyFailure(409, 'failedToUpdateAccessToken', 'This SSH key has been revoked and can no longer be updated.');
    }
    if (status === 'expired') {
      throw sshKeyFailure(400, 'expiredSshKeyCannotBeExtended', 'This SSH key has expired and can no longer be updated; add it again as a new key.');
    }
    const requested = body.validTo === undefined ? new Date(record.validTo) : validToOrFail(body.validTo, now);
    const policy = (await enforcedPolicies(app, organization.id)).sshKeys;
    refuseIfDisabled(policy);
    enforceKeyShape(policy, caller.id, record);
    const validTo = clampLifespan(policy, caller.id, new Date(record.validFrom), requested);
    const next: SshKeyRecord = {
      ...record,
      displayName: body.displayName ?? record.displayName,
      validTo: validTo.toISOString(),
      updatedAt: now.toISOString(),
    };
    const event = organizationEvent(app, ctx.audit, organization, {
      actionId: 'Token.SshUpdateEvent',
      data: sshKeyEventData(next, caller.displayName, {
        Previous: { DisplayName: record.displayName, ValidTo: record.validTo },
        ...(requested.getTime() !== validTo.getTime() ? { RequestedValidTo: requested.toISOString() } : {}),
      }),
    });
    await new SshKeyRepository(app).replace(record, etag, next, [event]);
    return sshKeyView(next, now);
  });
}

/**
 * Revokes a stored key (idempotent: an already revoked key is left as it is and no event is
 * written). Retries on a lost race; a revoke always wins over a concurrent update.
 */
export async function revokeStoredSshKey(
  { app, organization, audit }: AuditedChange,
  initial: StoredSshKey,
  { kind, ownerName }: Revocation,
): Promise<boolean> {
  const repository = new SshKeyRepository(app);
  return retryLostRaces(async (attempt) => {
    const stored = attempt === 1 ? initial : await repository.get(initial.record.ownerId, initial.record.authorizationId);
    if (!stored || stored.record.revokedAt) return false;
    const { record, etag } = stored;
    const now = app.clock.now().toISOString();
    const next: SshKeyRecord = { ...record, revokedAt: now, revokedBy: audit.actor.id, revocationKind: kind, updatedAt: now };
    const event: AuditEvent = organizationEvent(app, audit, organization, {
      actionId: 'Token.SshRevokeEvent',
      data: sshKeyEventData(next, ownerName, { RevocationKind: kind }),
    });
    await repository.replace(record, etag, next, [event]);
    return true;
  });
}

export async function revokeSshKey(ctx: SshKeyContext, authorizationId: string): Promise<void> {
  const stored = await ownVisible(ctx, authorizationId);
  await revokeStoredSshKey(ctx, stored, { kind: 'user', ownerName: ctx.caller.displayName });
}

/** Removes the key entirely (Token.SshRemoveEvent keeps its metadata in the audit trail). */
export async function removeSshKey(ctx: SshKeyContext, authorizationId: string): Promise<void> {
  const { record } = await ownVisible(ctx, authorizationId);
  const now = ctx.app.clock.now();
  const event = organizationEvent(ctx.app, ctx.audit, ctx.organization, {
    actionId: 'Token.SshRemoveEvent',
    data: sshKeyEventData(record, ctx.caller.displayName, {
      Status: sshKeyStatusOf(record, now),
      RevocationKind: record.revocationKind,
    }),
  });
  await new SshKeyRepository(ctx.app).remove(record, [event], record.revocationKind === 'admin');
}

// ---- listing -------------------------------------------------------------------------------------

const SSH_KEY_LIST: KeysetList<SshKeyRecord> = { purpose: 'ssh-key-list-continuation', bindingPrefix: ['ssh'], statusOf: sshKeyStatusOf };

/** Lists the caller's keys in the organization; keyset pages as for PATs. */
export async function listSshKeys(ctx: SshKeyContext, query: SshKeysGetQuery): Promise<{ continuationToken: string; sshKeys: SshKeyView[] }> {
  const now = ctx.app.clock.now();
  const pager = keysetPager(ctx, SSH_KEY_LIST, query);
  const inOrganization = (await new SshKeyRepository(ctx.app).listByOwner(ctx.caller.id))
    .map(({ record }) => record)
    .filter((record) => record.organizationId === ctx.organization.id);
  const { items, continuationToken } = pager.page(inOrganization, now);
  return { continuationToken, sshKeys: items.map((record) => sshKeyView(record, now)) };
}

// ---- token admin (isPublic=true) -------------------------------------------------------------------

export function sshKeySessionTokenView(record: SshKeyRecord, now: Date): SessionTokenView {
  return sessionTokenViewOf(record, {
    isPublic: true,
    isValid: sshKeyStatusOf(record, now) === 'active',
    publicData: record.publicData,
    scope: 'app_token',
    targetAccounts: [record.organizationId],
  });
}

/** SSH keys in token admin (`isPublic=true`): the organization's keys of the member. */
export const sshKeySessionTokenSource: SessionTokenSource = {
  async list(app, organization, userId) {
    const now = app.clock.now();
    return (await new SshKeyRepository(app).listByOwner(userId))
      .filter(({ record }) => record.organizationId === organization.id)
      .map(({ record }) => sshKeySessionTokenView(record, now))
      .sort((a, b) => (a.authorizationId < b.authorizationId ? -1 : 1));
  },
  async find(app, organization, authorizationId) {
    const stored = await new SshKeyRepository(app).getById(authorizationId);
    if (!stored || stored.record.organizationId !== organization.id) return undefined;
    return memberOwnerOf(app, organization.id, stored.record);
  },
  async revoke(change, authorizationId) {
    const { app, organization } = change;
    const stored = await new SshKeyRepository(app).getById(authorizationId);
    if (!stored || stored.record.organizationId !== organization.id) return;
    await revokeStoredSshKey(change, stored, { kind: 'admin', ownerName: await ownerName(app, stored.record.ownerId) });
  },
};
