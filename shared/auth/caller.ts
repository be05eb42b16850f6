import { truncate, wellFormed } from '../text.js';
import type { AppContext } from '../app-context.js';
import { unauthorized } from '../http/errors.js';
import { isGuid } from '../ids.js';

export interface UserCaller {
  readonly kind: 'user';
  readonly id: string;
  readonly tenantId: string;
  readonly email: string;
  readonly displayName: string;
  readonly scopes: ReadonlySet<string>;
  /** App roles assigned to the user (`roles` claim of a delegated token), e.g. Gatehouse.Operator. */
  readonly roles?: ReadonlySet<string>;
}

export interface ServicePrincipalCaller {
  readonly kind: 'servicePrincipal';
  readonly id: string;
  readonly tenantId: string;
  readonly displayName: string;
  readonly roles: ReadonlySet<string>;
}

/**
 * A personal access token (shared/tokens/authenticate.ts): acts for its owner, limited to its
 * scopes (`app_token` = full access) and target organizations.
 */
export interface PatCaller {
  readonly kind: 'pat';
  /** The owner's user id. */
  readonly id: string;
  readonly tenantId: string;
  readonly email: string;
  readonly displayName: string;
  readonly authorizationId: string;
  /** The token's own name. */
  readonly tokenName: string;
  /** The scopes as granted (not expanded). */
  readonly scopes: ReadonlySet<string>;
  readonly validFrom: string;
  readonly validTo: string;
  /** Organization ids the PAT targets; null for a global PAT (allOrgs). */
  readonly organizationIds: readonly string[] | null;
  readonly allOrgs: boolean;
  /** Set while a rotated PAT's grace period runs. */
  readonly graceEndsAt: string | null;
  readonly rotatedTo: string | null;
  /** Policies of the organization (or its tenant) it breaks; non-empty only on routes that report them. */
  readonly policyViolations: readonly string[];
}

export type Caller = UserCaller | ServicePrincipalCaller | PatCaller;

/** The directory subject a caller acts as (a PAT acts as its owner). */
export const subjectKindOf = (caller: Caller): 'user' | 'servicePrincipal' => (caller.kind === 'servicePrincipal' ? 'servicePrincipal' : 'user');

const MAX_AUTHORIZATION_LENGTH = 16 * 1024;

/** Extracts the bearer credential; anything else (missing, other schemes, oversized) is a uniform 401. */
export function bearerToken(authorization: string | null): string {
  if (!authorization || authorization.length > MAX_AUTHORIZATION_LENGTH) throw unauthorized();
  const match = /^Bearer\s+([A-Za-z0-9\-_.~+/]+=*)\s*$/i.exec(authorization);
  if (!match?.[1]) throw unauthorized();
  return match[1];
}

/**
 * Authenticates a Microsoft Entra ID shaped access token. Delegated tokens (with `scp`) are users;
 * app-only tokens (no `scp`, `roles` for app roles) are service principals identified by client id.
 */
export async function authenticateJwt(app: AppContext, authorization: string | null): Promise<Caller> {
  const claims = await app.verifyJwt(bearerToken(authorization));
  if (!claims || typeof claims.tid !== 'string' || !isGuid(claims.tid)) throw unauthorized();
  const tenantId = claims.tid.toLowerCase();
  if (typeof claims.scp === 'string') {
    if (typeof claims.oid !== 'string' || !isGuid(claims.oid)) throw unauthorized();
    return {
      kind: 'user',
      id: claims.oid.toLowerCase(),
      tenantId,
      email: claimText(claims.preferred_username ?? ''),
      displayName: claimText(claims.name ?? claims.preferred_username ?? claims.oid),
      scopes: new Set(claims.scp.split(' ').filter(Boolean)),
      roles: stringSet(claims.roles),
    };
  }
  const appId = claims.azp ?? claims.appid;
  if (typeof appId !== 'string' || !isGuid(appId)) throw unauthorized();
  const principal = await app.directory.getServicePrincipal(appId.toLowerCase());
  return {
    kind: 'servicePrincipal',
    id: appId.toLowerCase(),
    tenantId,
    displayName: principal?.displayName ?? appId,
    roles: new Set(Array.isArray(claims.roles) ? claims.roles.filter((role) => typeof role === 'string') : []),
  };
}

/** A text claim as Gatehouse stores it: well-formed Unicode, at most 256 characters, cut on a code point. */
function claimText(value: unknown): string {
  return truncate(wellFormed(String(value)), 256);
}

function stringSet(claim: unknown): ReadonlySet<string> {
  return new Set(Array.isArray(claim) ? claim.filter((item): item is string => typeof item === 'string') : []);
}

/** Azure DevOps style subject descriptor: `aad.` (users) or `aadsp.` (service principals) + base64url(id). */
export function subjectDescriptor(kind: Caller['kind'], id: string): string {
  return `${kind === 'servicePrincipal' ? 'aadsp' : 'aad'}.${Buffer.from(id, 'utf8').toString('base64url')}`;
}
