import { createHash, createHmac, randomUUID, timingSafeEqual } from 'node:crypto';
import type { z } from 'zod';
import type { AppContext } from '../app-context.js';
import type { HttpRequest } from '@azure/functions';
import type { Caller, UserCaller } from '../auth/caller.js';
import { auditContextOf, organizationEvent, type AuditContext } from '../audit/context.js';
import type { OrganizationAccess } from '../directory/access.js';
import type { AuditEvent } from '../audit/events.js';
import type { Organization } from '../directory/repository.js';
import { badRequest, restErrorStatus, sessionTokenFailure } from '../http/errors.js';
import { generateToken } from './format.js';
import { currentPepper, derivedKey, hashToken } from './hashing.js';
import { enforceOnCreate, enforceOnUpdate, readPolicies } from './policies.js';
import { PatRepository, statusOf, type PatRecord, type PatStatus, type PatUsage, type RevocationKind, type StoredPat } from './repository.js';
import { parseDateTime, type LastUsedView, type PatsGetQuery, type PatTokenView, type patCreateRequest, type patUpdateRequest } from './schemas.js';
import { parseScopes } from './scopes.js';

/** The furthest a validTo may lie ahead when no lifespan policy clamps it. */
export const MAX_LIFETIME_DAYS = 3650;
const DAY_MS = 86_400_000;
/** Attempts of a read-modify-write before a lost race is reported as a conflict. */
const ATTEMPTS = 4;

export interface PatContext {
  readonly app: AppContext;
  readonly caller: UserCaller;
  readonly organization: Organization;
  readonly audit: AuditContext;
}

export function patContextOf(input: {
  app: AppContext;
  caller: Caller | undefined;
  organization: OrganizationAccess | undefined;
  request: HttpRequest;
  activityId: string;
}): PatContext {
  const { caller, organization } = input;
  // The endpoint declarations admit users only and resolve the organization first.
  if (caller?.kind !== 'user' || !organization) throw new Error('PAT routes need a user caller in an organization');
  return {
    app: input.app,
    caller,
    organization: organization.organization,
    audit: auditContextOf(input.request, caller, input.activityId),
  };
}

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
export const isVisibleIn = (record: PatRecord, organizationId: string) =>
  record.targetAccounts === null || record.targetAccounts.includes(organizationId);

/** The audit `data` of a token event: metadata only, never the secret or its hash. */
export function patEventData(record: PatRecord, ownerName: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
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

function validToOrFail(value: string, now: Date): Date {
  const validTo = parseDateTime(value);
  if (Number.isNaN(validTo.getTime())) throw sessionTokenFailure(400, 'invalidValidTo', 'validTo is not a valid date-time.');
  if (validTo.getTime() <= now.getTime()) throw sessionTokenFailure(400, 'invalidValidTo', 'validTo must be in the future.');
  if (validTo.getTime() > now.getTime() + MAX_LIFETIME_DAYS * DAY_MS) {
    throw sessionTokenFailure(400, 'invalidValidTo', `validTo may be at most ${MAX_LIFETIME_DAYS} days ahead.`);
  }
  return validTo;
}

export async function createPat(ctx: PatContext, body: z.infer<typeof patCreateRequest>): Promise<PatTokenView> {
  const { app, caller, organization } = ctx;
  const now = app.clock.now();
  const scopes = scopesOrFail(body.scope);
  const requested = validToOrFail(body.validTo, now);
  const policies = (await readPolicies(app, organization.id)).document;
  const validTo = enforceOnCreate(policies, caller.id, { scopes, global: body.allOrgs, validTo: requested }, now);

  const pepper = currentPepper(app.config.peppers);
  const token = generateToken(pepper.version);
  const record: PatRecord = {
    authorizationId: randomUUID(),
    ownerId: caller.id,
    accessId: randomUUID(),
    displayName: body.displayName,
    scope: scopes.join(' '),
    targetAccounts: body.allOrgs ? null : [organization.id],
    validFrom: now.toISOString(),
    validTo: validTo.toISOString(),
    revokedAt: null,
    revokedBy: null,
    revocationKind: null,
    pepperVersion: pepper.version,
    hash: hashToken(app.config.peppers, pepper.version, token) as string,
    organizationId: organization.id,
    updatedAt: now.toISOString(),
  };
  const event = organizationEvent(app, ctx.audit, organization, {
    actionId: 'Token.PatCreateEvent',
    area: 'Token',
    category: 'create',
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

const isPreconditionFailure = (error: unknown) => restErrorStatus(error) === 412;

export async function updatePat(ctx: PatContext, body: z.infer<typeof patUpdateRequest>): Promise<PatTokenView> {
  const { app, caller, organization } = ctx;
  const scopes = body.scope === undefined ? undefined : scopesOrFail(body.scope);
  for (let attempt = 1; ; attempt++) {
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
    const targetAccounts =
      body.allOrgs === undefined ? record.targetAccounts : body.allOrgs ? null : (record.targetAccounts ?? [organization.id]);
    const policies = (await readPolicies(app, organization.id)).document;
    const validTo = enforceOnUpdate(policies, caller.id, {
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
      area: 'Token',
      category: 'modify',
      data: patEventData(next, caller.displayName, {
        Previous: { DisplayName: record.displayName, Scopes: record.scope, ValidTo: record.validTo, TargetAccounts: record.targetAccounts },
      }),
    });
    try {
      await new PatRepository(app).replace(record, etag, next, [event]);
      return patView(next);
    } catch (error) {
      if (!isPreconditionFailure(error) || attempt >= ATTEMPTS) throw error;
    }
  }
}

/**
 * Revokes a stored PAT (idempotent: an already revoked PAT is left as it is and no event is written).
 * Retries on a lost race; a revoke always wins over a concurrent update.
 */
export async function revokeStoredPat(
  app: AppContext,
  organization: Organization,
  audit: AuditContext,
  initial: StoredPat,
  kind: RevocationKind,
  ownerName: string,
  extra: Record<string, unknown> = {},
): Promise<boolean> {
  let stored: StoredPat | undefined = initial;
  const repository = new PatRepository(app);
  // More attempts than updates get: each concurrent update can win at most one round.
  const attempts = ATTEMPTS * 3;
  for (let attempt = 1; stored; attempt++) {
    const { record, etag }: StoredPat = stored;
    if (record.revokedAt) return false;
    const now = app.clock.now().toISOString();
    const reason = typeof extra.Reason === 'string' ? extra.Reason : null;
    const next: PatRecord = { ...record, revokedAt: now, revokedBy: audit.actor.id, revocationKind: kind, revocationReason: reason, updatedAt: now };
    const system = kind === 'rule' || kind === 'system';
    const event: AuditEvent = organizationEvent(app, audit, organization, {
      actionId: system ? 'Token.PatSystemRevokeEvent' : 'Token.PatRevokeEvent',
      area: 'Token',
      category: 'remove',
      data: patEventData(next, ownerName, { RevocationKind: kind, ...extra }),
    });
    try {
      await repository.replace(record, etag, next, [event]);
      return true;
    } catch (error) {
      if (!isPreconditionFailure(error) || attempt >= attempts) throw error;
      stored = await repository.get(record.ownerId, record.authorizationId);
    }
  }
  return false;
}

export async function revokePat(ctx: PatContext, authorizationId: string): Promise<void> {
  const stored = await ownVisible(ctx, authorizationId);
  await revokeStoredPat(ctx.app, ctx.organization, ctx.audit, stored, 'user', ctx.caller.displayName);
}

// ---- listing -------------------------------------------------------------------------------------

const STATUS_RANK: Record<PatStatus, number> = { active: 0, expired: 1, revoked: 2 };
type SortKey = (string | number)[];

function sortKey(record: PatRecord, sortBy: PatsGetQuery['sortByOption'], now: Date): SortKey {
  const name = record.displayName.toLowerCase();
  switch (sortBy) {
    case 'displayName':
      return [name, record.authorizationId];
    case 'displayDate':
      return [Date.parse(record.validTo), record.authorizationId];
    case 'status':
      return [STATUS_RANK[statusOf(record, now)], name, record.authorizationId];
  }
}

function compareKeys(a: SortKey, b: SortKey): number {
  for (let i = 0; i < Math.max(a.length, b.length); i++) {
    const x = a[i];
    const y = b[i];
    if (x === y) continue;
    if (x === undefined) return -1;
    if (y === undefined) return 1;
    return x < y ? -1 : 1;
  }
  return 0;
}

const invalidContinuation = () =>
  badRequest('invalidContinuationToken', 'The continuation token is not valid for this request; repeat the first request’s filter and sort options.');

/** What a continuation token is bound to: the caller, the organization and every filter and sort option. */
function bindingOf(ctx: PatContext, query: PatsGetQuery): string {
  const binding = [ctx.caller.id, ctx.organization.id, query.displayFilterOption, query.sortByOption, String(query.isSortAscending)].join('|');
  return createHash('sha256').update(binding).digest('base64url').slice(0, 22);
}

function signContinuation(app: AppContext, payload: { b: string; k: SortKey }): string {
  const body = Buffer.from(JSON.stringify({ v: 1, ...payload })).toString('base64url');
  const mac = createHmac('sha256', derivedKey(app.config.peppers, 'pat-list-continuation')).update(body).digest('base64url');
  return `${body}.${mac}`;
}

function readContinuation(app: AppContext, token: string, binding: string): SortKey {
  const [body, mac, extra] = token.split('.');
  if (!body || !mac || extra !== undefined) throw invalidContinuation();
  const expected = createHmac('sha256', derivedKey(app.config.peppers, 'pat-list-continuation')).update(body).digest();
  const given = Buffer.from(mac, 'base64url');
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) throw invalidContinuation();
  let payload: { v?: unknown; b?: unknown; k?: unknown };
  try {
    payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as typeof payload;
  } catch {
    throw invalidContinuation();
  }
  if (payload.v !== 1 || payload.b !== binding || !Array.isArray(payload.k)) throw invalidContinuation();
  if (!payload.k.every((part) => typeof part === 'string' || typeof part === 'number')) throw invalidContinuation();
  return payload.k as SortKey;
}

/**
 * Lists the caller's PATs visible in the organization. Pages are keyset-based: the continuation token
 * carries the sort key of the last PAT returned, so PATs created meanwhile never shift or repeat a page.
 */
export async function listPats(ctx: PatContext, query: PatsGetQuery): Promise<{ continuationToken: string; patTokens: PatTokenView[] }> {
  const now = ctx.app.clock.now();
  const binding = bindingOf(ctx, query);
  const after = query.continuationToken ? readContinuation(ctx.app, query.continuationToken, binding) : undefined;
  const direction = query.isSortAscending ? 1 : -1;
  const repository = new PatRepository(ctx.app);
  const [owned, usage] = await Promise.all([repository.listByOwner(ctx.caller.id), repository.listUsageByOwner(ctx.caller.id)]);
  const rows = owned
    .map(({ record }) => record)
    .filter((record) => isVisibleIn(record, ctx.organization.id))
    .filter((record) => query.displayFilterOption === 'all' || statusOf(record, now) === query.displayFilterOption)
    .map((record) => ({ record, key: sortKey(record, query.sortByOption, now) }))
    .sort((a, b) => direction * compareKeys(a.key, b.key));
  const remaining = after ? rows.filter((row) => direction * compareKeys(row.key, after) > 0) : rows;
  const page = remaining.slice(0, query.$top);
  const last = page[page.length - 1];
  const continuationToken = remaining.length > page.length && last ? signContinuation(ctx.app, { b: binding, k: last.key }) : '';
  return {
    continuationToken,
    patTokens: page.map(({ record }) => ({ ...patView(record), lastUsed: lastUsedView(usage.get(record.authorizationId.toLowerCase())) })),
  };
}
