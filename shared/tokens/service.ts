import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { AppContext } from '../app-context.js';
import type { UserCaller } from '../auth/caller.js';
import type { OrganizationScope } from '../request-scope.js';
import { organizationEvent, type AuditContext } from '../audit/context.js';
import type { AuditEvent } from '../audit/events.js';
import type { Organization } from '../directory/repository.js';
import { restErrorStatus, sessionTokenFailure } from '../http/errors.js';
import { retryLostRaces } from '../storage/conditional.js';
import { generateToken } from '../secrets/format.js';
import { currentPepper, hashToken } from '../secrets/hashing.js';
import { keysetPager, type KeysetList } from './listing.js';
import { enforceLayersOnCreate, enforceLayersOnUpdate, policyLayers } from './policies.js';
import { newPatAuthorizationId, PatRepository, statusOf, type PatRecord, type PatUsage, type RevocationKind, type StoredPat } from './repository.js';
import { parseDateTime, type LastUsedView, type PatsGetQuery, type PatTokenView, type patCreateRequest, type patUpdateRequest } from './schemas.js';
import { parseScopes } from './scopes.js';
import { DAY_MS } from '../time.js';

/** The furthest a validTo may lie ahead when no lifespan policy clamps it. */
export const MAX_LIFETIME_DAYS = 3650;

/**
 * Where a change to a credential happens and how it is audited, whoever makes it: its owner, an
 * administrator, or Gatehouse itself (rules, leaks, the end of a rotation's grace).
 */
export interface AuditedChange {
  readonly app: AppContext;
  readonly organization: Pick<Organization, 'id' | 'name'>;
  readonly audit: AuditContext;
}

/** A user caller's request in an organization: what the PAT and SSH key services work with. */
export interface CredentialContext extends AuditedChange {
  readonly caller: UserCaller;
  readonly organization: Organization;
}

/** A revocation as its audit event records it: its kind and the owner's name. */
export interface Revocation {
  readonly kind: RevocationKind;
  readonly ownerName: string;
}

/** The credential services' view of a request on a route that admits users only (see shared/http/endpoint.ts). */
export function credentialContextOf({ app, caller, organization, audit }: OrganizationScope<UserCaller>): CredentialContext {
  return { app, caller, organization: organization.organization, audit };
}

export type PatContext = CredentialContext;

export const patContextOf: (scope: OrganizationScope<UserCaller>) => PatContext = credentialContextOf;

/** The owner identity the hash snapshot keeps (from the issuing user's token). */
export const ownerIdentityOf = (caller: UserCaller) => ({ displayName: caller.displayName, email: caller.email, tenantId: caller.tenantId });

/** `lastUsed`, Gatehouse's extra beside the Azure DevOps fields (null when never used). */
export function lastUsedView(usage: PatUsage | undefined): LastUsedView {
  return usage && usage.time ? { time: usage.time, ip: usage.ip, userAgent: usage.userAgent, recentIps: usage.recentIps } : null;
}

export function patView(record: PatRecord, token: string | null = null): PatTokenView {
  return {
    authorizationId: record.authorizationId,
    displayName: record.displayName,
    scope: record.scope,
    targetAccounts: record.targetAccounts,
    token,
    validFrom: record.validFrom,
    validTo: record.validTo,
  };
}

/** A PAT is managed under an organization it targets (global PATs under any of the owner's organizations). */
export const isVisibleIn = (record: PatRecord, organizationId: string) => record.targetAccounts === null || record.targetAccounts.includes(organizationId);

/** The audit `data` of a token event: metadata only, never the secret or its hash. */
export function patEventData(record: PatRecord, ownerName: string, extra: Record<string, unknown> = {}) {
  return {
    AuthorizationId: record.authorizationId,
    DisplayName: record.displayName,
    Scopes: record.scope,
    ValidFrom: record.validFrom,
    ValidTo: record.validTo,
    TargetAccounts: record.targetAccounts,
    IsGlobal: record.targetAccounts === null,
    OwnerId: record.ownerId,
    OwnerName: ownerName,
    TokenType: 'PersonalAccessToken',
    ...extra,
  };
}

function scopesOrFail(value: string): string[] {
  const parsed = parseScopes(value);
  if (!parsed.ok) throw sessionTokenFailure(400, 'invalidScope', `Invalid scope: ${parsed.reason}.`);
  return parsed.scopes;
}

/** A requested validTo: a date-time in the future, at most MAX_LIFETIME_DAYS ahead (400 invalidValidTo otherwise). */
export function validToOrFail(value: string, now: Date): Date {
  const validTo = parseDateTime(value);
  if (Number.isNaN(validTo.getTime())) throw sessionTokenFailure(400, 'invalidValidTo', 'validTo is not a valid date-time.');
  if (validTo.getTime() <= now.getTime()) throw sessionTokenFailure(400, 'invalidValidTo', 'validTo must be in the future.');
  if (validTo.getTime() > now.getTime() + MAX_LIFETIME_DAYS * DAY_MS) {
    throw sessionTokenFailure(400, 'invalidValidTo', `validTo may be at most ${MAX_LIFETIME_DAYS} days ahead.`);
  }
  return validTo;
}

/**
 * A new PAT: a fresh secret under the current pepper and the record that stores its hash, valid from
 * `now`. The secret is returned once, to hand to the caller; it is never stored.
 */
export function issuePatRecord(
  app: AppContext,
  fields: Pick<PatRecord, 'ownerId' | 'displayName' | 'scope' | 'targetAccounts' | 'organizationId'> & { validTo: Date; now: Date },
): { record: PatRecord; token: string } {
  const pepper = currentPepper(app.config.peppers);
  const authorizationId = newPatAuthorizationId(fields.ownerId);
  const token = generateToken(pepper.version, authorizationId);
  const iso = fields.now.toISOString();
  const record: PatRecord = {
    authorizationId,
    ownerId: fields.ownerId,
    accessId: randomUUID(),
    displayName: fields.displayName,
    scope: fields.scope,
    targetAccounts: fields.targetAccounts,
    validFrom: iso,
    validTo: fields.validTo.toISOString(),
    revokedAt: null,
    revokedBy: null,
    revocationKind: null,
    pepperVersion: pepper.version,
    hash: hashToken(app.config.peppers, pepper.version, token) as string,
    organizationId: fields.organizationId,
    updatedAt: iso,
  };
  return { record, token };
}

export async function createPat(ctx: PatContext, body: z.infer<typeof patCreateRequest>): Promise<PatTokenView> {
  const { app, caller, organization } = ctx;
  const now = app.clock.now();
  const scopes = scopesOrFail(body.scope);
  const requested = validToOrFail(body.validTo, now);
  const layers = await policyLayers(app, organization);
  const validTo = enforceLayersOnCreate(layers, caller.id, { scopes, global: body.allOrgs, validTo: requested }, now);

  const { record, token } = issuePatRecord(app, {
    ownerId: caller.id,
    displayName: body.displayName,
    scope: scopes.join(' '),
    targetAccounts: body.allOrgs ? null : [organization.id],
    organizationId: organization.id,
    validTo,
    now,
  });
  const event = organizationEvent(app, ctx.audit, organization, {
    actionId: 'Token.PatCreateEvent',
    data: patEventData(record, caller.displayName, requested.getTime() !== validTo.getTime() ? { RequestedValidTo: requested.toISOString() } : {}),
  });
  try {
    await new PatRepository(app).create(record, [event], ownerIdentityOf(caller));
  } catch (error) {
    if (restErrorStatus(error) === 409) throw sessionTokenFailure(409, 'duplicateHash', 'The token could not be issued; try again.');
    throw error;
  }
  return patView(record, token);
}

async function ownVisible(ctx: PatContext, authorizationId: string): Promise<StoredPat> {
  const stored = await new PatRepository(ctx.app).get(ctx.caller.id, authorizationId);
  if (!stored) throw sessionTokenFailure(404, 'authorizationNotFound', `No PAT with authorizationId '${authorizationId}' was found.`);
  if (!isVisibleIn(stored.record, ctx.organization.id)) {
    throw sessionTokenFailure(403, 'accessDenied', 'This PAT belongs to another organization; manage it there.');
  }
  return stored;
}

export async function getPat(ctx: PatContext, authorizationId: string): Promise<PatTokenView> {
  const { record } = await ownVisible(ctx, authorizationId);
  const usage = await new PatRepository(ctx.app).getUsage(record.ownerId, record.authorizationId);
  return { ...patView(record), lastUsed: lastUsedView(usage) };
}

export async function updatePat(ctx: PatContext, body: z.infer<typeof patUpdateRequest>): Promise<PatTokenView> {
  const { app, caller, organization } = ctx;
  const scopes = body.scope === undefined ? undefined : scopesOrFail(body.scope);
  return retryLostRaces(async () => {
    const now = app.clock.now();
    const { record, etag } = await ownVisible(ctx, body.authorizationId);
    const status = statusOf(record, now);
    if (status === 'revoked') {
      throw sessionTokenFailure(409, 'failedToUpdateAccessToken', 'This PAT has been revoked and can no longer be updated.');
    }
    if (status === 'expired') {
      throw sessionTokenFailure(400, 'expiredPatCannotBeExtended', 'This PAT has expired and can no longer be updated; create a new one.');
    }
    const requested = body.validTo === undefined ? new Date(record.validTo) : validToOrFail(body.validTo, now);
    const nextScopes = scopes ?? record.scope.split(' ');
    const targetAccounts = body.allOrgs === undefined ? record.targetAccounts : body.allOrgs ? null : (record.targetAccounts ?? [organization.id]);
    const layers = await policyLayers(app, organization);
    const validTo = enforceLayersOnUpdate(layers, caller.id, {
      scopes: nextScopes,
      global: targetAccounts === null,
      validFrom: new Date(record.validFrom),
      validTo: requested,
    });
    const next: PatRecord = {
      ...record,
      displayName: body.displayName ?? record.displayName,
      scope: nextScopes.join(' '),
      targetAccounts,
      validTo: validTo.toISOString(),
      updatedAt: now.toISOString(),
    };
    const event = organizationEvent(app, ctx.audit, organization, {
      actionId: 'Token.PatUpdateEvent',
      data: patEventData(next, caller.displayName, {
        Previous: { DisplayName: record.displayName, Scopes: record.scope, ValidTo: record.validTo, TargetAccounts: record.targetAccounts },
      }),
    });
    await new PatRepository(app).replace(record, etag, next, [event]);
    return patView(next);
  });
}

/**
 * Revokes a stored PAT (idempotent: an already revoked PAT is left as it is and no event is written).
 * Retries on a lost race; a revoke always wins over a concurrent update.
 */
export async function revokeStoredPat(
  { app, organization, audit }: AuditedChange,
  initial: StoredPat,
  { kind, ownerName }: Revocation,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  const repository = new PatRepository(app);
  return retryLostRaces(async (attempt) => {
    const stored = attempt === 1 ? initial : await repository.get(initial.record.ownerId, initial.record.authorizationId);
    if (!stored || stored.record.revokedAt) return false;
    const { record, etag } = stored;
    const now = app.clock.now().toISOString();
    const reason = typeof extra.Reason === 'string' ? extra.Reason : null;
    const next: PatRecord = { ...record, revokedAt: now, revokedBy: audit.actor.id, revocationKind: kind, revocationReason: reason, updatedAt: now };
    const system = kind === 'rule' || kind === 'system';
    const event: AuditEvent = organizationEvent(app, audit, organization, {
      actionId: system ? 'Token.PatSystemRevokeEvent' : 'Token.PatRevokeEvent',
      data: patEventData(next, ownerName, { RevocationKind: kind, ...extra }),
    });
    await repository.replace(record, etag, next, [event]);
    return true;
  });
}

/**
 * Ends a PAT's access to one organization (an administrator's revocation of a PAT that reaches other
 * organizations too): the organization is recorded on the token, with its audit event. Idempotent.
 */
export async function blockStoredPatIn({ app, organization, audit }: AuditedChange, initial: StoredPat, ownerName: string): Promise<boolean> {
  const repository = new PatRepository(app);
  return retryLostRaces(async (attempt) => {
    const stored = attempt === 1 ? initial : await repository.get(initial.record.ownerId, initial.record.authorizationId);
    if (!stored) return false;
    const { record, etag } = stored;
    if (record.revokedAt || (record.blockedIn ?? []).includes(organization.id)) return false;
    const next: PatRecord = { ...record, blockedIn: [...(record.blockedIn ?? []), organization.id], updatedAt: app.clock.now().toISOString() };
    const event = organizationEvent(app, audit, organization, {
      actionId: 'Token.PatOrganizationRevokeEvent',
      data: patEventData(next, ownerName, { RevocationKind: 'admin', RevokedIn: organization.id }),
    });
    await repository.replace(record, etag, next, [event]);
    return true;
  });
}

export async function revokePat(ctx: PatContext, authorizationId: string): Promise<void> {
  const stored = await ownVisible(ctx, authorizationId);
  await revokeStoredPat(ctx, stored, { kind: 'user', ownerName: ctx.caller.displayName });
}

// ---- listing -------------------------------------------------------------------------------------

const PAT_LIST: KeysetList<PatRecord> = { purpose: 'pat-list-continuation', bindingPrefix: [], statusOf };

/**
 * Lists the caller's PATs visible in the organization. Pages are keyset-based: the continuation token
 * carries the sort key of the last PAT returned, so PATs created meanwhile never shift or repeat a page.
 */
export async function listPats(ctx: PatContext, query: PatsGetQuery): Promise<{ continuationToken: string; patTokens: PatTokenView[] }> {
  const now = ctx.app.clock.now();
  const pager = keysetPager(ctx, PAT_LIST, query);
  const repository = new PatRepository(ctx.app);
  const [owned, usage] = await Promise.all([repository.listByOwner(ctx.caller.id), repository.listUsageByOwner(ctx.caller.id)]);
  const visible = owned.map(({ record }) => record).filter((record) => isVisibleIn(record, ctx.organization.id));
  const { items, continuationToken } = pager.page(visible, now);
  return {
    continuationToken,
    patTokens: items.map((record) => ({ ...patView(record), lastUsed: lastUsedView(usage.get(record.authorizationId.toLowerCase())) })),
  };
}
