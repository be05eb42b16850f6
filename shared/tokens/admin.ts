import { randomUUID } from 'node:crypto';
import type { AppContext } from '../app-context.js';
import type { CallerScope, OrganizationScope } from '../request-scope.js';
import { subjectDescriptor, type UserCaller } from '../auth/caller.js';
import { organizationEvent, systemAuditContextWithin } from '../audit/context.js';
import { commitWithEvents } from '../audit/outbox.js';
import type { Organization } from '../directory/repository.js';
import { badRequest, notFound } from '../http/errors.js';
import { readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import { PatRepository, patFactsOf, snapshotOf, statusOf, type PatRecord, type PatUsage, type StoredPat } from './repository.js';
import { parseDateTime, type SessionTokenView } from './schemas.js';
import { ALL_SCOPES } from './scopes.js';
import { blockStoredPatIn, lastUsedView, revokeStoredPat } from './service.js';
import { violationsOf, type PolicyName, type TokenPolicyDocument } from './policies.js';
import { forgetRevocationRules, listRevocationRules, RULE_PREFIX, type RevocationRule } from './rules.js';
import { reach, ruleMatchesFacts } from './judge.js';
import { memberOwnerOf, ownerName, sessionTokenViewOf, type SessionTokenSource } from './session-tokens.js';
import { isGuid } from '../ids.js';
import { HOUR_MS } from '../time.js';

// ---- subject descriptors -------------------------------------------------------------------------

/**
 * Subject descriptors are Azure DevOps graph descriptors: `aad.` + base64url (no padding) of the
 * user's object id as text, e.g. `aad.YTExY2UwMDAtMDAwMC00MDAwLTgwMDAtMDAwMDAwMDAwMDBh`
 * (see `subjectDescriptor` in shared/auth/caller.ts). Returns the user id, or undefined.
 */
export function userIdFromDescriptor(descriptor: string): string | undefined {
  const match = /^aad\.([A-Za-z0-9_-]{1,200})=*$/.exec(descriptor);
  if (!match?.[1]) return undefined;
  const id = Buffer.from(match[1], 'base64url').toString('utf8');
  return isGuid(id) ? id.toLowerCase() : undefined;
}

async function memberUserOrFail(app: AppContext, organizationId: string, descriptor: string): Promise<string> {
  const userId = userIdFromDescriptor(descriptor);
  if (!userId) throw badRequest('invalidSubjectDescriptor', "The subject descriptor is not a user descriptor ('aad.' + base64url of the user id).");
  const membership = await app.directory.getMembership(organizationId, 'user', userId);
  if (!membership) throw notFound('identityNotFound', 'No member of this organization has that subject descriptor.');
  return userId;
}

// ---- session token sources ------------------------------------------------------------------------

export function sessionTokenView(record: PatRecord, now: Date): SessionTokenView {
  return sessionTokenViewOf(record, {
    isPublic: false,
    isValid: statusOf(record, now) === 'active',
    publicData: null,
    scope: record.scope,
    targetAccounts: record.targetAccounts,
  });
}

/** A PAT's use as one organization saw it: its last use there, and only that address. */
function usageIn(usage: PatUsage | undefined, organizationId: string): PatUsage | undefined {
  const use = usage?.byOrganization[organizationId];
  return use ? { ...use, recentIps: use.ip ? [use.ip] : [], byOrganization: {} } : undefined;
}

/** Whether a PAT can reach the organization: it targets it, or it is global and of the organization's tenant, and was not revoked there. */
export const reachesOrganization = (record: PatRecord, organization: Pick<Organization, 'id' | 'tenantId'>) =>
  reach(patFactsOf(snapshotOf(record)), organization) === undefined;

/**
 * PATs in token admin: the organization's administrators see the PATs that can reach their
 * organization, with the use seen there (not elsewhere). Revoking one that reaches other
 * organizations too (a global PAT) ends its access to this organization only: the organization is
 * recorded on the token (Token.PatOrganizationRevokeEvent); revoking it everywhere is for its owner,
 * the leak path, expiry and tenant administrators.
 */
/** The PATs Token Admin lists and revokes (`isPublic=false`). */
export const patSessionTokenSource: SessionTokenSource = {
  async list(app, organization, userId) {
    const now = app.clock.now();
    const repository = new PatRepository(app);
    const [owned, usage] = await Promise.all([repository.listByOwner(userId), repository.listUsageByOwner(userId)]);
    return owned
      .filter(({ record }) => reachesOrganization(record, organization))
      .map(({ record }) => ({
        ...sessionTokenView(record, now),
        lastUsed: lastUsedView(usageIn(usage.get(record.authorizationId.toLowerCase()), organization.id)),
      }))
      .sort((a, b) => (a.authorizationId < b.authorizationId ? -1 : 1));
  },
  async find(app, organization, authorizationId) {
    const stored = await new PatRepository(app).getById(authorizationId);
    if (!stored || !reachesOrganization(stored.record, organization)) return undefined;
    return memberOwnerOf(app, organization.id, stored.record);
  },
  async revoke(change, authorizationId) {
    const { app, organization } = change;
    const stored = await new PatRepository(app).getById(authorizationId);
    if (!stored) return;
    const name = await ownerName(app, stored.record.ownerId);
    const { targetAccounts } = stored.record;
    if (targetAccounts !== null && targetAccounts.every((id) => id === organization.id)) {
      await revokeStoredPat(change, stored, { kind: 'admin', ownerName: name });
    } else {
      await blockStoredPatIn(change, stored, name);
    }
  },
};

// ---- list ----------------------------------------------------------------------------------------

const CONTINUATION_TTL_MS = HOUR_MS;
const invalidContinuation = () => badRequest('invalidContinuationToken', 'The continuation token is unknown, expired or was issued for another request.');

/**
 * The Token Admin API declares its continuation token as a uuid, so it is a server-side cursor: a row
 * in `continuations` (PK = the uuid) bound to the caller, organization, user and isPublic.
 */
export async function listUserTokens(
  scope: OrganizationScope,
  descriptor: string,
  query: { pageSize: number; continuationToken?: string | undefined; isPublic: boolean },
  source: SessionTokenSource,
): Promise<{ value: SessionTokenView[]; continuationToken: string | null }> {
  const { app } = scope;
  const organization = scope.organization.organization;
  const callerId = scope.caller.id;
  const userId = await memberUserOrFail(app, organization.id, descriptor);
  const binding = ['tokenadmin', callerId, organization.id, userId, String(query.isPublic)].join('|');
  const continuations = app.storage.table(TABLES.continuations);
  let after: string | undefined;
  if (query.continuationToken) {
    const cursor = await readEntity<{ binding: string; after: string; expiresAt: string }>(continuations, query.continuationToken.toLowerCase(), 'cursor');
    if (!cursor || cursor.binding !== binding || Date.parse(cursor.expiresAt) <= app.clock.now().getTime()) throw invalidContinuation();
    after = cursor.after;
  }
  const all = await source.list(app, organization, userId);
  const remaining = after === undefined ? all : all.filter((token) => token.authorizationId > after);
  const value = remaining.slice(0, query.pageSize);
  const last = value[value.length - 1];
  if (remaining.length <= value.length || !last) return { value, continuationToken: null };
  const id = randomUUID();
  await continuations.createEntity({
    partitionKey: id,
    rowKey: 'cursor',
    binding,
    after: last.authorizationId,
    expiresAt: new Date(app.clock.now().getTime() + CONTINUATION_TTL_MS).toISOString(),
  });
  return { value, continuationToken: id };
}

// ---- revocations ---------------------------------------------------------------------------------

/** Revokes every listed authorization; unknown ids fail the whole call before anything is revoked. */
export async function revokeAuthorizations(
  scope: OrganizationScope,
  authorizationIds: readonly string[],
  isPublic: boolean,
  source: SessionTokenSource,
): Promise<void> {
  const { app, audit } = scope;
  const organization = scope.organization.organization;
  const ids = [...new Set(authorizationIds.map((id) => id.toLowerCase()))];
  const found = await Promise.all(ids.map(async (id) => ((await source.find(app, organization, id)) ? id : undefined)));
  const missing = ids.filter((_, i) => found[i] === undefined);
  if (missing.length > 0) {
    throw notFound(
      'authorizationNotFound',
      `No ${isPublic ? 'SSH key' : 'PAT'} of a member of this organization has the authorizationId '${missing[0] ?? ids[0]}'.`,
    );
  }
  for (const id of ids) await source.revoke({ app, organization, audit }, id);
}

// ---- revocation rules ----------------------------------------------------------------------------

/** Rules judge a PAT's lineage: a successor of a rotation is as old as the first PAT of its chain. */
export const ruleMatches = (rule: RevocationRule, record: PatRecord) => ruleMatchesFacts(rule, patFactsOf(snapshotOf(record)));

/** Whether a revocation rule of the organization refuses this PAT there (global PATs are refused per organization, not revoked). */
export async function isRevokedByRule(app: AppContext, organizationId: string, record: PatRecord): Promise<boolean> {
  const rules = await listRevocationRules(app, organizationId);
  return rules.some((rule) => ruleMatches(rule, record));
}

/** Org-wide enumeration: every PAT of every user member that can reach the organization. */
async function memberPats(app: AppContext, organization: Organization): Promise<StoredPat[]> {
  const members = (await app.directory.listMemberships(organization.id)).filter((member) => member.subjectKind === 'user');
  const repository = new PatRepository(app);
  const lists = await Promise.all(members.map((member) => repository.listByOwner(member.subjectId)));
  return lists.flat().filter(({ record }) => reachesOrganization(record, organization));
}

/**
 * Stores a revocation rule (with its audit event) and revokes now every unrevoked PAT that targets
 * only this organization and matches it (Token.PatSystemRevokeEvent each). Global PATs that match are
 * refused in this organization by `isRevokedByRule` instead of being revoked everywhere.
 */
export async function createRevocationRule(
  scope: OrganizationScope,
  body: { scopes: string; createdBefore?: string | undefined },
): Promise<{ rule: RevocationRule; revoked: number }> {
  const { app, audit } = scope;
  const organization = scope.organization.organization;
  const scopes = body.scopes.split(/\s+/).filter(Boolean);
  const unknown = scopes.find((scope) => !ALL_SCOPES.has(scope));
  if (scopes.length === 0) throw badRequest('invalidScope', 'scopes must name at least one scope.');
  if (unknown !== undefined) throw badRequest('invalidScope', `Unknown scope '${unknown.slice(0, 64)}'.`);
  if (new Set(scopes).size !== scopes.length) throw badRequest('invalidScope', 'A scope is listed more than once.');
  const now = app.clock.now();
  const createdBefore = body.createdBefore ? parseDateTime(body.createdBefore) : now;
  if (Number.isNaN(createdBefore.getTime())) throw badRequest('invalidCreatedBefore', 'createdBefore is not a valid date-time.');
  const rule: RevocationRule = {
    id: randomUUID(),
    scopes,
    createdBefore: createdBefore.toISOString(),
    createdAt: now.toISOString(),
    createdBy: audit.actor.id,
  };
  const event = organizationEvent(app, audit, organization, {
    actionId: 'Token.RevocationRuleCreateEvent',
    data: { RuleId: rule.id, Scopes: scopes.join(' '), CreatedBefore: rule.createdBefore },
  });
  await commitWithEvents(
    app,
    TABLES.revocationRules,
    [
      [
        'create',
        {
          partitionKey: organization.id,
          rowKey: `${RULE_PREFIX}${rule.id}`,
          scopes: scopes.join(' '),
          createdBefore: rule.createdBefore,
          createdAt: rule.createdAt,
          createdBy: rule.createdBy,
        },
      ],
    ],
    [event],
  );
  await forgetRevocationRules(app, organization.id);

  const system = systemAuditContextWithin(audit);
  let revoked = 0;
  for (const stored of await memberPats(app, organization)) {
    const { record } = stored;
    if (record.revokedAt || record.targetAccounts === null || !ruleMatches(rule, record)) continue;
    const name = await ownerName(app, record.ownerId);
    if (
      await revokeStoredPat(
        { app, organization, audit: system },
        stored,
        { kind: 'rule', ownerName: name },
        { RevocationRuleId: rule.id, RequestedBy: audit.actor.id },
      )
    )
      revoked++;
  }
  return { rule, revoked };
}

// ---- policy preview ------------------------------------------------------------------------------

export interface PolicyViolation {
  authorizationId: string;
  displayName: string;
  scope: string;
  targetAccounts: string[] | null;
  validFrom: string;
  validTo: string;
  owner: { id: string; displayName: string; principalName: string; descriptor: string };
  violations: PolicyName[];
}

/** Active PATs of the organization's members that would break `policies`, with their owners. */
export async function previewPolicyViolations(app: AppContext, organization: Organization, policies: TokenPolicyDocument): Promise<PolicyViolation[]> {
  const now = app.clock.now();
  const result: PolicyViolation[] = [];
  const users = new Map<string, { displayName: string; email: string }>();
  for (const { record } of await memberPats(app, organization)) {
    if (statusOf(record, now) !== 'active') continue;
    const violations = violationsOf(policies, record.ownerId, {
      scopes: record.scope.split(' '),
      global: record.targetAccounts === null,
      validFrom: new Date(record.validFrom),
      validTo: new Date(record.validTo),
    });
    if (violations.length === 0) continue;
    if (!users.has(record.ownerId)) {
      const user = await app.directory.getUser(record.ownerId);
      users.set(record.ownerId, { displayName: user?.displayName ?? record.ownerId, email: user?.email ?? '' });
    }
    const owner = users.get(record.ownerId) as { displayName: string; email: string };
    result.push({
      authorizationId: record.authorizationId,
      displayName: record.displayName,
      scope: record.scope,
      targetAccounts: record.targetAccounts,
      validFrom: record.validFrom,
      validTo: record.validTo,
      owner: {
        id: record.ownerId,
        displayName: owner.displayName,
        principalName: owner.email,
        descriptor: subjectDescriptor('user', record.ownerId),
      },
      violations,
    });
  }
  return result.sort((a, b) => (a.owner.displayName + a.displayName).localeCompare(b.owner.displayName + b.displayName));
}

// ---- tenant administrators -----------------------------------------------------------------------

/**
 * A tenant administrator revokes PATs of people of their tenant everywhere (each audited in the
 * organization it was issued in). Unknown ids, and PATs of other tenants, fail the whole call before
 * anything is revoked.
 */
export async function revokeForTenant({ app, caller, audit }: CallerScope<UserCaller>, authorizationIds: readonly string[]): Promise<void> {
  const { tenantId } = caller;
  const repository = new PatRepository(app);
  const ids = [...new Set(authorizationIds.map((id) => id.toLowerCase()))];
  const found = await Promise.all(ids.map((id) => repository.getById(id)));
  const missing = ids.find((_, i) => {
    const owner = found[i]?.record.owner;
    return !owner || owner.tenantId.toLowerCase() !== tenantId.toLowerCase();
  });
  if (missing !== undefined) throw notFound('authorizationNotFound', `No PAT of a person of your tenant has the authorizationId '${missing}'.`);
  for (const stored of found) {
    if (!stored) continue;
    const organization = (await app.directory.getOrganizationById(stored.record.organizationId)) ?? { id: stored.record.organizationId, name: 'unknown' };
    await revokeStoredPat(
      { app, organization, audit },
      stored,
      { kind: 'admin', ownerName: await ownerName(app, stored.record.ownerId) },
      { RevokedBy: 'tenantAdministrator' },
    );
  }
}
