import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { organizationEvent, type AuditContext } from '../audit/context.js';
import { TtlCache } from '../cache.js';
import { commitWithEvents } from '../audit/outbox.js';
import type { Organization } from '../directory/repository.js';
import { AppError, sessionTokenFailure } from '../http/errors.js';
import { readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import { isFullAccess, isPackagingOnly } from './scopes.js';
import { MAX_RSA_BITS, MIN_RSA_BITS, SSH_KEY_TYPES } from '../sshkeys/types.js';

/**
 * Organization token policies: one zod-validated document per organization, every section with
 * defaults, so a stored document missing a section (written before the section existed) reads as the
 * defaults. To add a policy: add a section to `sections()` with a default for every field, list it in
 * `tokenPolicyDocumentSchema` (with `.prefault({})`) and `tokenPolicyUpdateSchema` (`.optional()`),
 * enforce it where it applies, and document it; stored documents need no migration.
 *
 * Every section has `exemptUsers` (user ids on its allow-list); being on one list exempts from that
 * policy only.
 */

const exemptUsers = z
  .array(z.guid())
  .max(1000)
  .default([])
  .transform((ids) => [...new Set(ids.map((id) => id.toLowerCase()))]);

/** The policy sections; `strict` for input (unknown fields are errors), lenient for stored documents. */
function sections(strict: boolean) {
  const object = <T extends z.core.$ZodLooseShape>(shape: T) => (strict ? z.object(shape).strict() : z.object(shape));
  return {
    /** Create clamps validTo to now + maxDays; update to validFrom + maxDays. */
    maxPatLifespan: object({
      enabled: z.boolean().default(false),
      maxDays: z.number().int().min(1).max(3650).default(90),
      exemptUsers,
    }),
    /** New or updated PATs may not use `app_token` (fullScopePatPolicyViolation). */
    restrictFullScopePats: object({ enabled: z.boolean().default(false), exemptUsers }),
    /** New or updated PATs may not be global (globalPatPolicyViolation). */
    restrictGlobalPats: object({ enabled: z.boolean().default(false), exemptUsers }),
    /** Only exempt users may create PATs (disablePatCreationPolicyViolation), optionally except packaging-only ones. */
    restrictPatCreation: object({
      enabled: z.boolean().default(false),
      allowPackagingScopes: z.boolean().default(false),
      exemptUsers,
    }),
    /** Leaked PATs are revoked automatically (on by default, as in Azure DevOps). */
    leakedPatAutoRevocation: object({ enabled: z.boolean().default(true), exemptUsers }),
    /**
     * SSH public keys (shared/sshkeys): `allowed: false` refuses new and updated keys to everyone
     * (sshPolicyDisabled) and makes key lookups find nothing; exemptUsers are exempt from the other
     * rules only. Keys that break the type or size rules are kept but not found by lookups. Create
     * clamps validTo to now + maxLifespanDays (null: no limit), update to validFrom + maxLifespanDays;
     * a create without validTo gets now + defaultLifespanDays (then clamped).
     */
    sshKeys: object({
      allowed: z.boolean().default(true),
      allowedKeyTypes: z
        .array(z.enum(SSH_KEY_TYPES))
        .min(1)
        .max(SSH_KEY_TYPES.length * 2)
        .default([...SSH_KEY_TYPES])
        .transform((types) => [...new Set(types)]),
      minimumRsaBits: z.number().int().min(MIN_RSA_BITS).max(MAX_RSA_BITS).default(MIN_RSA_BITS),
      maxLifespanDays: z.number().int().min(1).max(3650).nullable().default(null),
      defaultLifespanDays: z.number().int().min(1).max(3650).default(365),
      exemptUsers,
    }),
  };
}

const stored = sections(false);
export const tokenPolicyDocumentSchema = z.object({
  maxPatLifespan: stored.maxPatLifespan.prefault({}),
  restrictFullScopePats: stored.restrictFullScopePats.prefault({}),
  restrictGlobalPats: stored.restrictGlobalPats.prefault({}),
  restrictPatCreation: stored.restrictPatCreation.prefault({}),
  leakedPatAutoRevocation: stored.leakedPatAutoRevocation.prefault({}),
  sshKeys: stored.sshKeys.prefault({}),
});
export type TokenPolicyDocument = z.infer<typeof tokenPolicyDocumentSchema>;
export type PolicyName = keyof TokenPolicyDocument;
export const POLICY_NAMES = Object.keys(stored) as PolicyName[];

/** PUT and preview bodies: sections given replace the stored ones; sections left out stay as they are. */
const input = sections(true);
export const tokenPolicyUpdateSchema = z
  .object({
    maxPatLifespan: input.maxPatLifespan.optional(),
    restrictFullScopePats: input.restrictFullScopePats.optional(),
    restrictGlobalPats: input.restrictGlobalPats.optional(),
    restrictPatCreation: input.restrictPatCreation.optional(),
    leakedPatAutoRevocation: input.leakedPatAutoRevocation.optional(),
    sshKeys: input.sshKeys.optional(),
  })
  .strict();
export type TokenPolicyUpdate = z.infer<typeof tokenPolicyUpdateSchema>;

/** GET / PUT response: the document with its revision metadata. */
export const tokenPolicyViewSchema = tokenPolicyDocumentSchema.extend({
  revision: z.number(),
  lastModifiedDate: z.string().nullable(),
  lastModifiedBy: z.string().nullable(),
});

export const DEFAULT_POLICIES: TokenPolicyDocument = tokenPolicyDocumentSchema.parse({});

export interface StoredPolicies {
  document: TokenPolicyDocument;
  revision: number;
  lastModifiedDate: string | null;
  lastModifiedBy: string | null;
  etag: string | undefined;
}

const POLICY_ROW = 'policy';

export async function readPolicies(app: AppContext, organizationId: string): Promise<StoredPolicies> {
  const row = await readEntity<{ document: string; revision: number; lastModifiedDate: string; lastModifiedBy: string }>(
    app.storage.table(TABLES.tokenPolicies),
    organizationId,
    POLICY_ROW,
  );
  if (!row) return { document: DEFAULT_POLICIES, revision: 0, lastModifiedDate: null, lastModifiedBy: null, etag: undefined };
  let document = DEFAULT_POLICIES;
  try {
    document = tokenPolicyDocumentSchema.parse(JSON.parse(row.document));
  } catch {
    // A document that no longer parses must not silently switch policies off.
    throw sessionTokenFailure(409, 'failedToReadOrgPolicy', 'The organization token policy could not be read.');
  }
  return { document, revision: Number(row.revision) || 0, lastModifiedDate: row.lastModifiedDate, lastModifiedBy: row.lastModifiedBy, etag: row.etag };
}

const policyCaches = new WeakMap<AppContext, TtlCache<TokenPolicyDocument>>();
function policyCacheOf(app: AppContext): TtlCache<TokenPolicyDocument> {
  let cache = policyCaches.get(app);
  if (!cache) policyCaches.set(app, (cache = new TtlCache(() => app.config.tokenPolicyCacheSeconds * 1000, () => 10_000)));
  return cache;
}

/**
 * The policies to enforce on a request, reused for TOKEN_POLICY_CACHE_SECONDS: this instance's own
 * updates apply at once, another instance's within that time. Reads that show or update the document
 * use readPolicies.
 */
export async function enforcedPolicies(app: AppContext, organizationId: string): Promise<TokenPolicyDocument> {
  const cache = policyCacheOf(app);
  const cached = cache.get(organizationId, app.clock.now().getTime());
  if (cached) return cached;
  const { document } = await readPolicies(app, organizationId);
  cache.set(organizationId, document, app.clock.now().getTime());
  return document;
}

export function mergePolicies(current: TokenPolicyDocument, update: TokenPolicyUpdate): TokenPolicyDocument {
  return tokenPolicyDocumentSchema.parse({ ...current, ...Object.fromEntries(Object.entries(update).filter(([, v]) => v !== undefined)) });
}

export function policyView(stored: StoredPolicies) {
  return {
    ...stored.document,
    revision: stored.revision,
    lastModifiedDate: stored.lastModifiedDate,
    lastModifiedBy: stored.lastModifiedBy,
  };
}

export const etagOf = (revision: number) => `"${revision}"`;

/** Saves the merged document with its audit event; `ifMatch` (an ETag from GET) guards lost updates. */
export async function updatePolicies(
  app: AppContext,
  organization: Organization,
  context: AuditContext,
  update: TokenPolicyUpdate,
  ifMatch: string | null,
): Promise<StoredPolicies> {
  const current = await readPolicies(app, organization.id);
  if (ifMatch && ifMatch !== '*' && ifMatch !== etagOf(current.revision)) {
    throw new AppError(412, 'preconditionFailed', 'The token policies were changed since you read them; read them again and retry.');
  }
  const document = mergePolicies(current.document, update);
  const changed = POLICY_NAMES.filter((name) => JSON.stringify(document[name]) !== JSON.stringify(current.document[name]));
  const revision = current.revision + 1;
  const now = app.clock.now().toISOString();
  const entity = {
    partitionKey: organization.id,
    rowKey: POLICY_ROW,
    document: JSON.stringify(document),
    revision,
    lastModifiedDate: now,
    lastModifiedBy: context.actor.id,
  };
  const event = organizationEvent(app, context, organization, {
    actionId: 'Token.PolicyUpdateEvent',
    area: 'Token',
    category: 'modify',
    data: { ChangedPolicies: changed, Revision: revision, Policies: document },
  });
  await commitWithEvents(
    app,
    TABLES.tokenPolicies,
    [current.etag ? ['update', entity, 'Replace', { etag: current.etag }] : ['create', entity]],
    [event],
  );
  policyCacheOf(app).delete(organization.id);
  return { document, revision, lastModifiedDate: now, lastModifiedBy: context.actor.id, etag: undefined };
}

export const exempt = (section: { exemptUsers: string[] }, userId: string) => section.exemptUsers.includes(userId.toLowerCase());
const DAY_MS = 86_400_000;

export interface TokenShape {
  scopes: readonly string[];
  global: boolean;
  validFrom: Date;
  validTo: Date;
}

/** Refuses a new PAT the policies forbid and returns its validTo after the lifespan clamp. */
export function enforceOnCreate(policies: TokenPolicyDocument, userId: string, token: Omit<TokenShape, 'validFrom'>, now: Date): Date {
  const creation = policies.restrictPatCreation;
  if (creation.enabled && !exempt(creation, userId) && !(creation.allowPackagingScopes && isPackagingOnly(token.scopes))) {
    throw sessionTokenFailure(
      403,
      'disablePatCreationPolicyViolation',
      creation.allowPackagingScopes
        ? 'This organization allows you to create PATs with packaging scopes only.'
        : 'This organization restricts PAT creation to allow-listed users.',
    );
  }
  enforceShape(policies, userId, token);
  return clamp(policies, userId, now, token.validTo);
}

/** Refuses an update whose result the policies forbid and returns validTo clamped to validFrom + max. */
export function enforceOnUpdate(policies: TokenPolicyDocument, userId: string, token: TokenShape): Date {
  enforceShape(policies, userId, token);
  return clamp(policies, userId, token.validFrom, token.validTo);
}

function enforceShape(policies: TokenPolicyDocument, userId: string, token: Pick<TokenShape, 'scopes' | 'global'>): void {
  if (token.global && policies.restrictGlobalPats.enabled && !exempt(policies.restrictGlobalPats, userId)) {
    throw sessionTokenFailure(403, 'globalPatPolicyViolation', 'This organization does not allow global PATs (allOrgs).');
  }
  if (isFullAccess(token.scopes) && policies.restrictFullScopePats.enabled && !exempt(policies.restrictFullScopePats, userId)) {
    throw sessionTokenFailure(403, 'fullScopePatPolicyViolation', 'This organization does not allow full-access (app_token) PATs.');
  }
}

function clamp(policies: TokenPolicyDocument, userId: string, from: Date, validTo: Date): Date {
  const lifespan = policies.maxPatLifespan;
  if (!lifespan.enabled || exempt(lifespan, userId)) return validTo;
  const limit = from.getTime() + lifespan.maxDays * DAY_MS;
  return validTo.getTime() > limit ? new Date(limit) : validTo;
}

/** The policies an existing token breaks (for the preview). */
export function violationsOf(policies: TokenPolicyDocument, userId: string, token: TokenShape): PolicyName[] {
  const found: PolicyName[] = [];
  const lifespan = policies.maxPatLifespan;
  if (lifespan.enabled && !exempt(lifespan, userId) && token.validTo.getTime() - token.validFrom.getTime() > lifespan.maxDays * DAY_MS) {
    found.push('maxPatLifespan');
  }
  if (policies.restrictFullScopePats.enabled && !exempt(policies.restrictFullScopePats, userId) && isFullAccess(token.scopes)) {
    found.push('restrictFullScopePats');
  }
  if (policies.restrictGlobalPats.enabled && !exempt(policies.restrictGlobalPats, userId) && token.global) {
    found.push('restrictGlobalPats');
  }
  const creation = policies.restrictPatCreation;
  if (creation.enabled && !exempt(creation, userId) && !(creation.allowPackagingScopes && isPackagingOnly(token.scopes))) {
    found.push('restrictPatCreation');
  }
  return found;
}

/** Whether a leaked token of this user is revoked automatically (for the leak handler). */
export function autoRevokesLeaks(policies: TokenPolicyDocument, userId: string): boolean {
  return policies.leakedPatAutoRevocation.enabled && !exempt(policies.leakedPatAutoRevocation, userId);
}
