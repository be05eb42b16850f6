import { randomUUID } from 'node:crypto';
import { TtlCache } from '../cache.js';
import { trimTrailing } from '../text.js';
import type { AppContext } from '../app-context.js';
import { memoForApp } from '../app-memo.js';
import type { PatCaller } from '../auth/caller.js';
import type { Organization } from '../directory/repository.js';
import type { RequestOrigin } from '../http/origin.js';
import { AppError, unauthorized } from '../http/errors.js';
import { parseGatehouseToken, TOKEN_PREFIX } from '../secrets/format.js';
import { hashToken } from '../secrets/hashing.js';
import { judgeCredential, type JudgeOptions, type Refusal } from './judge.js';
import { POLICY_VIOLATION_CODES, type PolicyName } from './policies.js';
import { onPatWritten, PatRepository, patFactsOf, sameHash, type PatAuthSnapshot } from './repository.js';
import { hasAnyScope, isFullAccess } from './scopes.js';
import { recordPatUse } from './usage.js';
import { onRemoteChange } from '../coherence/changes.js';
import { telemetry } from '../telemetry/telemetry.js';

/**
 * The one PAT authenticator. Every route that accepts PATs goes through it: the endpoint helper
 * (shared/http/endpoint.ts) for routes declaring `access.pats`.
 *
 * 1. `Authorization: Basic base64(anything:PAT)` (Azure DevOps style) or `Authorization: Bearer <PAT>`.
 * 2. Format and CRC32 checksum first: a malformed value never touches storage.
 * 3. HMAC-SHA256 under the pepper version named in the token, then one point read of the record by
 *    the authorization id the token carries, or a hit in the bounded positive cache.
 * 4. Constant-time comparison of the stored and computed hash, then the credential judge
 *    (shared/tokens/judge.ts) for the organization being accessed: liveness, reach, membership,
 *    revocation rules and the policies at use. Every refusal is the same 401 body as a missing
 *    credential, except a policy violation (a coded 403).
 */

const MAX_AUTHORIZATION_LENGTH = 4096;
const MAX_BASIC_LENGTH = 1024;

/** Every refusal: the standard 401, identical for every reason. */
export const patRefused = () => unauthorized();

/** A PAT as read from a header: the secret and what its format names (checksum checked, nothing looked up). */
export interface PatSecret {
  readonly token: string;
  readonly pepperVersion: string;
  readonly authorizationId: string;
}

export type PatCredential = ({ kind: 'pat' } & PatSecret) | { kind: 'notPat' };

/**
 * Reads a PAT from an Authorization header, checking format and checksum (no storage access).
 * `notPat` for headers that are not PAT credentials at all (missing, a non-`gat_` bearer value such as
 * a JWT, another scheme): callers that also take JWTs hand those to the JWT verifier. A Basic
 * credential or a `gat_` bearer value that fails the checks is a 401 here.
 */
export function patCredentialOf(authorization: string | null): PatCredential {
  if (!authorization) return { kind: 'notPat' };
  if (authorization.length > MAX_AUTHORIZATION_LENGTH) throw patRefused();
  // Trailing blanks are trimmed first: a pattern that had to search for them after the credential
  // would backtrack over every blank run (quadratic in the header's length).
  const value = trimTrailing(authorization, ' \t');
  const basic = /^Basic[ \t]+(\S*)$/i.exec(value);
  if (basic) return { kind: 'pat', ...checkedToken(passwordOfBasic(basic[1] ?? '')) };
  const bearer = /^Bearer[ \t]+(\S*)$/i.exec(value);
  if (bearer && (bearer[1] ?? '').startsWith(TOKEN_PREFIX)) return { kind: 'pat', ...checkedToken(bearer[1] ?? '') };
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

function checkedToken(value: string): PatSecret {
  const secret = secretOf(value);
  if (!secret) throw patRefused();
  return secret;
}

/** The parts of a token (format and checksum checked), parsed once per request. */
function secretOf(token: string | PatSecret): PatSecret | undefined {
  if (typeof token !== 'string') return token;
  const parsed = parseGatehouseToken(token);
  return parsed ? { token, ...parsed } : undefined;
}

// ---- cache ---------------------------------------------------------------------------------------

/** Every app's cache, for local writes (whose notice names the PAT, not the app). */
const allSnapshotCaches = new Set<WeakRef<TtlCache<PatAuthSnapshot>>>();

const snapshotCacheOf = memoForApp((app) => {
  const cache = new TtlCache<PatAuthSnapshot>(
    () => app.config.patAuth.cacheSeconds * 1000,
    () => app.config.patAuth.cacheMaxEntries,
  );
  allSnapshotCaches.add(new WeakRef(cache));
  return cache;
});

// A write to a PAT on another instance: the change feed names its hash.
onRemoteChange('pat', (app, hash) => (hash === undefined ? snapshotCacheOf(app).clear() : snapshotCacheOf(app).delete(hash)));

// A local write to a PAT (revoke, update, rotation, end of grace) drops its cached entry at once.
onPatWritten((hash) => {
  for (const ref of allSnapshotCaches) {
    const cache = ref.deref();
    if (cache) cache.delete(hash);
    else allSnapshotCaches.delete(ref);
  }
});

// ---- authentication ------------------------------------------------------------------------------

export interface PatAuthOptions {
  /** The organization being accessed; without it, the one the PAT was issued in. */
  readonly organization?: Organization;
  /** Where the request came from, for last-used tracking. Without it no use is recorded. */
  readonly origin?: RequestOrigin;
  /** Correlates the new-IP audit event with the request. */
  readonly activityId?: string;
  /** The request's trace context, for the new-IP audit event. */
  readonly traceparent?: string;
  /** See JudgeOptions: `report` for the PAT's own self lookup and self rotation. */
  readonly policies?: JudgeOptions['policies'];
}

/** Why a PAT is refused (for logs and introspection only; callers get the uniform 401 or a policy code). */
export type PatRefusal = 'unknown' | Refusal;

export type PatEvaluation =
  | { ok: true; snapshot: PatAuthSnapshot; organization: Organization; violations: readonly PolicyName[] }
  | { ok: false; reason: PatRefusal; violations: readonly PolicyName[] };

/**
 * Finds the PAT a secret belongs to (format, checksum, HMAC under the pepper it names, one point read
 * or a hit in the bounded cache) and asks the credential judge whether it is good in the organization
 * (by default the one it was issued in).
 */
export async function evaluatePat(app: AppContext, token: string | PatSecret, organization?: Organization, options: JudgeOptions = {}): Promise<PatEvaluation> {
  const evaluation = await judgePat(app, token, organization, options);
  telemetry.authentication(evaluation.ok ? 'ok' : evaluation.reason);
  return evaluation;
}

async function judgePat(app: AppContext, token: string | PatSecret, organization: Organization | undefined, options: JudgeOptions): Promise<PatEvaluation> {
  const unknown = { ok: false as const, reason: 'unknown' as const, violations: [] };
  const parsed = secretOf(token);
  if (!parsed) return unknown;
  const hash = hashToken(app.config.peppers, parsed.pepperVersion, parsed.token);
  if (!hash) return unknown;
  const cache = snapshotCacheOf(app);
  const now = app.clock.now().getTime();
  let snapshot = cache.get(hash, now);
  const fromCache = snapshot !== undefined;
  snapshot ??= await new PatRepository(app).findSnapshot(parsed.authorizationId);
  if (!snapshot || !sameHash(snapshot.hash, hash)) return unknown;
  const where = organization ?? (await app.directory.getOrganizationById(snapshot.organizationId));
  if (!where) return unknown;
  const verdict = await judgeCredential(app, patFactsOf(snapshot), where, options);
  if (!verdict.ok) return verdict;
  if (!fromCache) cache.set(hash, snapshot, now);
  return { ok: true, snapshot, organization: where, violations: verdict.violations };
}

export function patCallerOf(snapshot: PatAuthSnapshot, violations: readonly PolicyName[] = []): PatCaller {
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
    policyViolations: violations,
  };
}

/**
 * Authenticates a PAT value (already extracted). Every refusal is the uniform 401, except a PAT that
 * is otherwise good but breaks a policy of the organization or its tenant: that is a 403 naming the
 * policy (Azure DevOps' codes), since only its holder can present it.
 */
export async function authenticatePat(app: AppContext, token: string | PatSecret, options: PatAuthOptions = {}): Promise<PatCaller> {
  const result = await evaluatePat(app, token, options.organization, { policies: options.policies ?? 'enforce' });
  if (!result.ok) {
    app.log.info('PAT refused', { reason: result.reason });
    if (result.reason === 'policy') throw policyRefusal(result.violations);
    throw patRefused();
  }
  if (options.origin) {
    await recordPatUse(app, result.snapshot, options.origin, {
      organization: result.organization,
      activityId: options.activityId ?? randomUUID(),
      traceparent: options.traceparent,
    });
  }
  return patCallerOf(result.snapshot, result.violations);
}

function policyRefusal(violations: readonly PolicyName[]): AppError {
  const first = violations[0] ?? 'restrictPatCreation';
  return new AppError(
    403,
    POLICY_VIOLATION_CODES[first],
    `This PAT breaks the token policies of this organization or its tenant (${violations.join(', ')}); its self lookup says why.`,
    {
      details: { violations },
    },
  );
}

/** Whether a PAT grants any of the scopes (`app_token` grants all; higher scopes include lower ones). */
export function patHasAnyScope(caller: Pick<PatCaller, 'scopes'>, required: readonly string[]): boolean {
  return isFullAccess([...caller.scopes]) || hasAnyScope(caller.scopes, required);
}
