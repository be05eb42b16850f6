import { randomUUID } from 'node:crypto';
import { TtlCache } from '../cache.js';
import type { HttpRequest } from '@azure/functions';
import type { AppContext } from '../app-context.js';
import type { PatCaller } from '../auth/caller.js';
import { unauthorized } from '../http/errors.js';
import { listRevocationRules, type RevocationRule } from './admin.js';
import { parseGatehouseToken, TOKEN_PREFIX } from './format.js';
import { hashToken } from './hashing.js';
import { onPatWritten, PatRepository, sameHash, type PatAuthSnapshot } from './repository.js';
import { expandScopes, isFullAccess, scopesMatch } from './scopes.js';
import { recordPatUse } from './usage.js';

/**
 * The one PAT authenticator. Every route that accepts PATs goes through it (the endpoint helper for
 * routes declaring `access.pats`; other handlers such as package feeds call `authenticatePatRequest`).
 *
 * 1. `Authorization: Basic base64(anything:PAT)` (Azure DevOps style) or `Authorization: Bearer <PAT>`.
 * 2. Format and CRC32 checksum first: a malformed value never touches storage.
 * 3. HMAC-SHA256 under the pepper version named in the token, then one point read of the record by
 *    the authorization id the token carries, or a hit in the bounded positive cache.
 * 4. Constant-time comparison of the stored and computed hash, then refusal of revoked, expired,
 *    not-yet-valid, past-grace (rotated), wrong-organization (unless global) and revocation-rule
 *    matches. Every refusal is the same 401 body as a missing credential.
 */

const MAX_AUTHORIZATION_LENGTH = 4096;
const MAX_BASIC_LENGTH = 1024;

/** Every refusal: the standard 401, identical for every reason. */
export const patRefused = () => unauthorized();

export type PatCredential = { kind: 'pat'; token: string } | { kind: 'notPat' };

/**
 * Reads a PAT from an Authorization header, checking format and checksum (no storage access).
 * `notPat` for headers that are not PAT credentials at all (missing, a non-`gat_` bearer value such as
 * a JWT, another scheme): callers that also take JWTs hand those to the JWT verifier. A Basic
 * credential or a `gat_` bearer value that fails the checks is a 401 here.
 */
export function patCredentialOf(authorization: string | null): PatCredential {
  if (!authorization) return { kind: 'notPat' };
  if (authorization.length > MAX_AUTHORIZATION_LENGTH) throw patRefused();
  const basic = /^Basic[ \t]+([^\s]*)[ \t]*$/i.exec(authorization);
  if (basic) return { kind: 'pat', token: checkedToken(passwordOfBasic(basic[1] ?? '')) };
  const bearer = /^Bearer[ \t]+([^\s]*)[ \t]*$/i.exec(authorization);
  if (bearer && (bearer[1] ?? '').startsWith(TOKEN_PREFIX)) return { kind: 'pat', token: checkedToken(bearer[1] ?? '') };
  return { kind: 'notPat' };
}

function passwordOfBasic(encoded: string): string {
  if (encoded.length === 0 || encoded.length > MAX_BASIC_LENGTH || !/^[A-Za-z0-9+/]+={0,2}$/.test(encoded) || encoded.length % 4 !== 0) {
    throw patRefused();
  }
  const decoded = Buffer.from(encoded, 'base64').toString('latin1');
  const colon = decoded.indexOf(':');
  return colon === -1 ? decoded : decoded.slice(colon + 1);
}

function checkedToken(value: string): string {
  if (!parseGatehouseToken(value)) throw patRefused();
  return value;
}

// ---- caches --------------------------------------------------------------------------------------

interface AppCaches {
  snapshots: TtlCache<PatAuthSnapshot>;
  rules: TtlCache<RevocationRule[]>;
}

const caches = new WeakMap<AppContext, AppCaches>();
const allSnapshotCaches = new Set<WeakRef<TtlCache<PatAuthSnapshot>>>();

function cachesOf(app: AppContext): AppCaches {
  let found = caches.get(app);
  if (!found) {
    const ttl = () => app.config.patAuth.cacheSeconds * 1000;
    found = {
      snapshots: new TtlCache(ttl, () => app.config.patAuth.cacheMaxEntries),
      rules: new TtlCache(ttl, () => 1000),
    };
    caches.set(app, found);
    allSnapshotCaches.add(new WeakRef(found.snapshots));
  }
  return found;
}

// A local write to a PAT (revoke, update, rotation, end of grace) drops its cached entry at once.
onPatWritten((hash) => {
  for (const ref of allSnapshotCaches) {
    const cache = ref.deref();
    if (cache) cache.delete(hash);
    else allSnapshotCaches.delete(ref);
  }
});

/** Drops every cached result of this process (tests; operators never need it). */
export function clearPatAuthCache(app: AppContext): void {
  const found = caches.get(app);
  found?.snapshots.clear();
  found?.rules.clear();
}

/** Drops the cached revocation rules of an organization (after a local rule change). */
export function forgetRevocationRules(app: AppContext, organizationId: string): void {
  caches.get(app)?.rules.delete(organizationId);
}

async function rulesOf(app: AppContext, organizationId: string): Promise<RevocationRule[]> {
  const cache = cachesOf(app).rules;
  const now = app.clock.now().getTime();
  const cached = cache.get(organizationId, now);
  if (cached) return cached;
  const rules = await listRevocationRules(app, organizationId);
  cache.set(organizationId, rules, now);
  return rules;
}

// ---- authentication ------------------------------------------------------------------------------

export interface PatAuthOptions {
  /** The organization being accessed: a PAT that does not target it (and is not global) is refused. */
  readonly organization?: { readonly id: string; readonly name: string };
  /** The request, for last-used tracking (client IP, user agent). Without it no use is recorded. */
  readonly request?: HttpRequest;
  /** Correlates the new-IP audit event with the request. */
  readonly activityId?: string;
}

/** Why a PAT is refused (for logs and introspection only; callers always get the same 401). */
export type PatRefusal = 'unknown' | 'revoked' | 'expired' | 'notYetValid' | 'rotated' | 'wrongOrganization' | 'revocationRule';

/**
 * The snapshot of a live PAT, or the refusal reason. `organizationId` is the organization being
 * accessed (targeting and revocation rules); without it the PAT's own organization's rules apply.
 */
export async function evaluatePat(
  app: AppContext,
  token: string,
  organizationId?: string,
): Promise<{ ok: true; snapshot: PatAuthSnapshot } | { ok: false; reason: PatRefusal }> {
  const parsed = parseGatehouseToken(token);
  if (!parsed) return { ok: false, reason: 'unknown' };
  const hash = hashToken(app.config.peppers, parsed.pepperVersion, token);
  if (!hash) return { ok: false, reason: 'unknown' };
  const { snapshots } = cachesOf(app);
  let snapshot = snapshots.get(hash, app.clock.now().getTime());
  let fromCache = snapshot !== undefined;
  if (!snapshot) {
    snapshot = await new PatRepository(app).findSnapshot(parsed.authorizationId);
    fromCache = false;
  }
  if (!snapshot || !sameHash(snapshot.hash, hash)) return { ok: false, reason: 'unknown' };
  const now = app.clock.now().getTime();
  const reason = refusalOf(snapshot, now, organizationId);
  if (reason) return { ok: false, reason };
  const rules = await rulesOf(app, organizationId ?? snapshot.organizationId);
  if (rules.some((rule) => Date.parse(snapshot.validFrom) < Date.parse(rule.createdBefore) && scopesMatch(snapshot.scope.split(' '), rule.scopes))) {
    return { ok: false, reason: 'revocationRule' };
  }
  if (!fromCache) snapshots.set(hash, snapshot, now);
  return { ok: true, snapshot };
}

function refusalOf(snapshot: PatAuthSnapshot, now: number, organizationId: string | undefined): PatRefusal | undefined {
  if (snapshot.revokedAt) return 'revoked';
  if (!(Date.parse(snapshot.validFrom) <= now)) return 'notYetValid';
  if (!(now < Date.parse(snapshot.validTo))) return 'expired';
  if (snapshot.graceEndsAt && !(now < Date.parse(snapshot.graceEndsAt))) return 'rotated';
  if (organizationId && snapshot.targetAccounts !== null && !snapshot.targetAccounts.includes(organizationId)) return 'wrongOrganization';
  return undefined;
}

export function patCallerOf(snapshot: PatAuthSnapshot): PatCaller {
  return {
    kind: 'pat',
    id: snapshot.ownerId,
    tenantId: snapshot.owner.tenantId,
    email: snapshot.owner.email,
    displayName: snapshot.owner.displayName || snapshot.ownerId,
    authorizationId: snapshot.authorizationId,
    tokenName: snapshot.displayName,
    scopes: new Set(snapshot.scope.split(' ').filter(Boolean)),
    validFrom: snapshot.validFrom,
    validTo: snapshot.validTo,
    organizationIds: snapshot.targetAccounts,
    allOrgs: snapshot.targetAccounts === null,
    graceEndsAt: snapshot.graceEndsAt,
    rotatedTo: snapshot.rotatedTo,
  };
}

/** Authenticates a PAT value (already extracted); any failure is the uniform 401. */
export async function authenticatePat(app: AppContext, token: string, options: PatAuthOptions = {}): Promise<PatCaller> {
  const result = await evaluatePat(app, token, options.organization?.id);
  if (!result.ok) {
    app.log.info('PAT refused', { reason: result.reason });
    throw patRefused();
  }
  if (options.request) {
    recordPatUse(app, result.snapshot, options.request, { organization: options.organization, activityId: options.activityId ?? randomUUID() });
  }
  return patCallerOf(result.snapshot);
}

/**
 * Authenticates a request that must carry a PAT (Basic or Bearer); anything else is the uniform 401.
 * For routes outside the endpoint helper (e.g. package feeds): pass the organization being accessed.
 */
export async function authenticatePatRequest(app: AppContext, request: HttpRequest, options: Omit<PatAuthOptions, 'request'> = {}): Promise<PatCaller> {
  const credential = patCredentialOf(request.headers.get('authorization'));
  if (credential.kind !== 'pat') throw patRefused();
  return authenticatePat(app, credential.token, { ...options, request });
}

/** Whether a PAT grants any of the scopes (`app_token` grants all; higher scopes include lower ones). */
export function patHasAnyScope(caller: Pick<PatCaller, 'scopes'>, required: readonly string[]): boolean {
  const granted = [...caller.scopes];
  if (isFullAccess(granted)) return true;
  const effective = expandScopes(granted);
  return required.some((scope) => effective.has(scope));
}
