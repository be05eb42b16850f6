import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { memoForApp } from '../app-memo.js';
import type { CallerScope, OrganizationScope } from '../request-scope.js';
import type { UserCaller } from '../auth/caller.js';
import { organizationEvent } from '../audit/context.js';
import { TtlCache } from '../cache.js';
import { commitWithEvents } from '../audit/outbox.js';
import type { Organization } from '../directory/repository.js';
import { AppError, sessionTokenFailure } from '../http/errors.js';
import { encodeKey, readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import { isFullAccess, isPackagingOnly } from './scopes.js';
import { MAX_RSA_BITS, MIN_RSA_BITS, SSH_KEY_TYPES } from './ssh-key-types.js';
import { announceChange, onRemoteChange } from '../coherence/changes.js';
import { DAY_MS } from '../time.js';

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
const tenantOnly = (strict: boolean) => {
  const shape = {
    enabled: z.boolean().default(false),
    exemptUsers,
    /** When set, each user of the tenant may create at most this many organizations per hour (exempt users too). */
    maxPerUserPerHour: z.number().int().min(1).max(1000).nullable().default(null),
  };
  return {
    /**
     * Only exempt users of the tenant may create organizations (organizationCreationRestricted); and,
     * when `maxPerUserPerHour` is set, nobody more often than that (429 creationRateLimited).
     */
    restrictOrganizationCreation: strict ? z.object(shape).strict() : z.object(shape),
  };
};
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

/**
 * Tenant policies, set by a tenant administrator (app role Gatehouse.TenantAdministrator) and applied
 * in every organization of the tenant on top of the organization's own: the PAT sections have the
 * organization sections' meaning, and a token must satisfy both layers.
 */
const storedTenant = tenantOnly(false);
export const tenantPolicyDocumentSchema = z.object({
  maxPatLifespan: stored.maxPatLifespan.prefault({}),
  restrictFullScopePats: stored.restrictFullScopePats.prefault({}),
  restrictGlobalPats: stored.restrictGlobalPats.prefault({}),
  leakedPatAutoRevocation: stored.leakedPatAutoRevocation.prefault({}),
  restrictOrganizationCreation: storedTenant.restrictOrganizationCreation.prefault({}),
});
export type TenantPolicyDocument = z.infer<typeof tenantPolicyDocumentSchema>;
const inputTenant = tenantOnly(true);
export const tenantPolicyUpdateSchema = z
  .object({
    maxPatLifespan: input.maxPatLifespan.optional(),
    restrictFullScopePats: input.restrictFullScopePats.optional(),
    restrictGlobalPats: input.restrictGlobalPats.optional(),
    leakedPatAutoRevocation: input.leakedPatAutoRevocation.optional(),
    restrictOrganizationCreation: inputTenant.restrictOrganizationCreation.optional(),
  })
  .strict();
export type TenantPolicyUpdate = z.infer<typeof tenantPolicyUpdateSchema>;

/** GET / PUT response: the document with its revision metadata. */
export const tokenPolicyViewSchema = tokenPolicyDocumentSchema.extend({
  revision: z.number(),
  lastModifiedDate: z.string().nullable(),
  lastModifiedBy: z.string().nullable(),
});

export const exemptFrom = (section: { exemptUsers: string[] }, userId: string) => section.exemptUsers.includes(userId.toLowerCase());

export interface StoredDocument<T> {
  document: T;
  revision: number;
  lastModifiedDate: string | null;
  lastModifiedBy: string | null;
  etag: string | undefined;
}
export type StoredPolicies = StoredDocument<TokenPolicyDocument>;

const POLICY_ROW = 'policy';
/** Tenant documents share the table with organizations' under their own partition. */
const tenantPartition = (tenantId: string) => `tenant_${encodeKey(tenantId.toLowerCase())}`;

async function readDocument<T>(app: AppContext, partition: string, schema: z.ZodType<T>): Promise<StoredDocument<T>> {
  const row = await readEntity<{ document: string; revision: number; lastModifiedDate: string; lastModifiedBy: string }>(
    app.storage.table(TABLES.tokenPolicies),
    partition,
    POLICY_ROW,
  );
  if (!row) return { document: schema.parse({}), revision: 0, lastModifiedDate: null, lastModifiedBy: null, etag: undefined };
  let document: T;
  try {
    document = schema.parse(JSON.parse(row.document));
  } catch {
    // A document that no longer parses must not silently switch policies off.
    throw sessionTokenFailure(409, 'failedToReadOrgPolicy', 'The token policy could not be read.');
  }
  return { document, revision: Number(row.revision) || 0, lastModifiedDate: row.lastModifiedDate, lastModifiedBy: row.lastModifiedBy, etag: row.etag };
}

export const readPolicies = (app: AppContext, organizationId: string): Promise<StoredPolicies> => readDocument(app, organizationId, tokenPolicyDocumentSchema);

export const readTenantPolicies = (app: AppContext, tenantId: string): Promise<StoredDocument<TenantPolicyDocument>> =>
  readDocument(app, tenantPartition(tenantId), tenantPolicyDocumentSchema);

const policyCacheOf = memoForApp(
  (app) =>
    new TtlCache<TokenPolicyDocument>(
      () => app.config.tokenPolicyCacheSeconds * 1000,
      () => 10_000,
    ),
);

onRemoteChange('policies', (app, key) => (key === undefined ? policyCacheOf(app).clear() : policyCacheOf(app).delete(key)));

async function cachedDocument(app: AppContext, key: string, read: () => Promise<TokenPolicyDocument>): Promise<TokenPolicyDocument> {
  const cache = policyCacheOf(app);
  const cached = cache.get(key, app.clock.now().getTime());
  if (cached) return cached;
  const document = await read();
  cache.set(key, document, app.clock.now().getTime());
  return document;
}

/**
 * The organization's policies to enforce on a request, reused for TOKEN_POLICY_CACHE_SECONDS: this
 * instance's own updates apply at once, another instance's within that time. Reads that show or update
 * the document use readPolicies.
 */
export const enforcedPolicies = (app: AppContext, organizationId: string): Promise<TokenPolicyDocument> =>
  cachedDocument(app, organizationId, async () => (await readPolicies(app, organizationId)).document);

/** The tenant's PAT policies in the organization document's shape (sections the tenant lacks are off). */
export function tenantLayerOf(tenant: TenantPolicyDocument): TokenPolicyDocument {
  return tokenPolicyDocumentSchema.parse({
    maxPatLifespan: tenant.maxPatLifespan,
    restrictFullScopePats: tenant.restrictFullScopePats,
    restrictGlobalPats: tenant.restrictGlobalPats,
    leakedPatAutoRevocation: tenant.leakedPatAutoRevocation,
  });
}

export async function enforcedTenantPolicies(app: AppContext, tenantId: string): Promise<TenantPolicyDocument> {
  return (await readTenantPolicies(app, tenantId)).document;
}

/**
 * Every layer of policy a token meets in an organization: the organization's own document and its
 * tenant's (as an organization document); a token must satisfy each.
 */
export async function policyLayers(app: AppContext, organization: Pick<Organization, 'id' | 'tenantId'>): Promise<TokenPolicyDocument[]> {
  return Promise.all([
    enforcedPolicies(app, organization.id),
    cachedDocument(app, tenantPartition(organization.tenantId), async () => tenantLayerOf(await enforcedTenantPolicies(app, organization.tenantId))),
  ]);
}

export function mergePolicies(current: TokenPolicyDocument, update: TokenPolicyUpdate): TokenPolicyDocument {
  return tokenPolicyDocumentSchema.parse({ ...current, ...Object.fromEntries(Object.entries<unknown>(update).filter(([, v]) => v !== undefined)) });
}

function mergeTenantPolicies(current: TenantPolicyDocument, update: TenantPolicyUpdate): TenantPolicyDocument {
  return tenantPolicyDocumentSchema.parse({ ...current, ...Object.fromEntries(Object.entries<unknown>(update).filter(([, v]) => v !== undefined)) });
}

export function policyView<T>(stored: StoredDocument<T>) {
  return {
    ...stored.document,
    revision: stored.revision,
    lastModifiedDate: stored.lastModifiedDate,
    lastModifiedBy: stored.lastModifiedBy,
  };
}

export const etagOf = (revision: number) => `"${revision}"`;

const preconditionFailed = () => new AppError(412, 'preconditionFailed', 'The token policies were changed since you read them; read them again and retry.');

function documentEntity(partition: string, document: unknown, revision: number, now: string, actorId: string) {
  return { partitionKey: partition, rowKey: POLICY_ROW, document: JSON.stringify(document), revision, lastModifiedDate: now, lastModifiedBy: actorId };
}

/** Saves the merged document with its audit event; `ifMatch` (an ETag from GET) guards lost updates. */
export async function updatePolicies(scope: OrganizationScope, update: TokenPolicyUpdate, ifMatch: string | null): Promise<StoredPolicies> {
  const { app, audit: context } = scope;
  const organization = scope.organization.organization;
  const current = await readPolicies(app, organization.id);
  if (ifMatch && ifMatch !== '*' && ifMatch !== etagOf(current.revision)) throw preconditionFailed();
  const document = mergePolicies(current.document, update);
  const changed = POLICY_NAMES.filter((name) => JSON.stringify(document[name]) !== JSON.stringify(current.document[name]));
  const revision = current.revision + 1;
  const now = app.clock.now().toISOString();
  const entity = documentEntity(organization.id, document, revision, now, context.actor.id);
  const event = organizationEvent(app, context, organization, {
    actionId: 'Token.PolicyUpdateEvent',
    data: { ChangedPolicies: changed, Revision: revision, Policies: document },
  });
  await commitWithEvents(app, TABLES.tokenPolicies, [current.etag ? ['update', entity, 'Replace', { etag: current.etag }] : ['create', entity]], [event]);
  policyCacheOf(app).delete(organization.id);
  await announceChange('policies', organization.id);
  return { document, revision, lastModifiedDate: now, lastModifiedBy: context.actor.id, etag: undefined };
}

/**
 * Saves the tenant's merged document. The change is audited in every organization of the tenant
 * (Token.TenantPolicyUpdateEvent), since it governs each of them.
 */
export async function updateTenantPolicies(
  { app, caller, audit: context }: CallerScope<UserCaller>,
  update: TenantPolicyUpdate,
  ifMatch: string | null,
): Promise<StoredDocument<TenantPolicyDocument>> {
  const { tenantId } = caller;
  const current = await readTenantPolicies(app, tenantId);
  if (ifMatch && ifMatch !== '*' && ifMatch !== etagOf(current.revision)) throw preconditionFailed();
  const document = mergeTenantPolicies(current.document, update);
  const changed = (Object.keys(document) as (keyof TenantPolicyDocument)[]).filter(
    (name) => JSON.stringify(document[name]) !== JSON.stringify(current.document[name]),
  );
  const revision = current.revision + 1;
  const now = app.clock.now().toISOString();
  const partition = tenantPartition(tenantId);
  const entity = documentEntity(partition, document, revision, now, context.actor.id);
  const organizations = await app.directory.listOrganizationsOfTenant(tenantId);
  const events = organizations.map((organization) =>
    organizationEvent(app, context, organization, {
      actionId: 'Token.TenantPolicyUpdateEvent',
      data: { TenantId: tenantId, ChangedPolicies: changed, Revision: revision, Policies: document },
    }),
  );
  await commitWithEvents(app, TABLES.tokenPolicies, [current.etag ? ['update', entity, 'Replace', { etag: current.etag }] : ['create', entity]], events);
  policyCacheOf(app).delete(partition);
  await announceChange('policies', partition);
  return { document, revision, lastModifiedDate: now, lastModifiedBy: context.actor.id, etag: undefined };
}

const exempt = exemptFrom;

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

/** enforceOnCreate through every layer (organization, tenant): each may refuse, each clamps validTo. */
export function enforceLayersOnCreate(layers: readonly TokenPolicyDocument[], userId: string, token: Omit<TokenShape, 'validFrom'>, now: Date): Date {
  return layers.reduce((validTo, layer) => enforceOnCreate(layer, userId, { ...token, validTo }, now), token.validTo);
}

/** enforceOnUpdate through every layer. */
export function enforceLayersOnUpdate(layers: readonly TokenPolicyDocument[], userId: string, token: TokenShape): Date {
  return layers.reduce((validTo, layer) => enforceOnUpdate(layer, userId, { ...token, validTo }), token.validTo);
}

/** Leaked tokens are revoked automatically unless the organization or its tenant turned that off for the user. */
export const autoRevokesLeaksIn = (layers: readonly TokenPolicyDocument[], userId: string): boolean => layers.every((layer) => autoRevokesLeaks(layer, userId));

/** The coded refusal of a token used where it breaks a policy (Azure DevOps' codes where it has them). */
export const POLICY_VIOLATION_CODES: Readonly<Record<PolicyName, string>> = {
  maxPatLifespan: 'patLifespanPolicyViolation',
  restrictFullScopePats: 'fullScopePatPolicyViolation',
  restrictGlobalPats: 'globalPatPolicyViolation',
  restrictPatCreation: 'disablePatCreationPolicyViolation',
  leakedPatAutoRevocation: 'leakedPatPolicyViolation',
  sshKeys: 'sshPolicyViolation',
};
