import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { subjectDescriptor, type Caller, type PatCaller, type ServicePrincipalCaller } from '../auth/caller.js';
import type { Organization } from '../directory/repository.js';
import { evaluatePat } from './authenticate.js';
import type { PolicyName } from './policies.js';
import { PatRepository } from './repository.js';
import { lastUsedSchema, patMetadataSchema } from './schemas.js';
import { lastUsedView } from './service.js';
import { isGuid } from '../ids.js';
import { DAY_MS } from '../time.js';

/** Rotation is suggested this many days before expiry. */
export const ROTATION_DUE_DAYS = 7;

// ---- self lookup ---------------------------------------------------------------------------------

export const patSelfSchema = patMetadataSchema.extend({
  daysLeft: z.number().describe('Whole days until validTo (0 on the last day).'),
  lastUsed: lastUsedSchema,
  rotatedTo: z.string().nullable().describe('The successor, while a rotated PAT is in its grace period.'),
  graceEndsAt: z.string().nullable(),
  policy: z.object({
    compliant: z.boolean(),
    violations: z.array(z.string()).describe('Names of the organization token policies this PAT breaks.'),
    reasons: z.array(z.string()),
  }),
  rotation: z.object({ due: z.boolean(), hint: z.string().nullable() }),
});
export type PatSelfView = z.infer<typeof patSelfSchema>;

const POLICY_REASONS: Partial<Record<PolicyName, string>> = {
  maxPatLifespan: 'Its lifetime exceeds the maximum PAT lifespan of this organization.',
  restrictFullScopePats: 'This organization no longer allows full-access (app_token) PATs.',
  restrictGlobalPats: 'This organization no longer allows global PATs (allOrgs).',
  restrictPatCreation: 'This organization restricts PAT creation to allow-listed users, and this PAT was not issued here (or is global).',
  leakedPatAutoRevocation: '',
};

/** What a PAT learns about itself: metadata, days left, policy compliance and a rotation hint. */
export async function lookupSelf(app: AppContext, caller: PatCaller): Promise<PatSelfView> {
  const now = app.clock.now().getTime();
  const usage = await new PatRepository(app).getUsage(caller.id, caller.authorizationId);
  // The credential judge found these where the PAT is being used (the self routes report, not refuse).
  const violations = caller.policyViolations as PolicyName[];
  const daysLeft = Math.max(0, Math.floor((Date.parse(caller.validTo) - now) / DAY_MS));
  let hint: string | null = null;
  if (caller.rotatedTo) {
    hint = `This PAT was rotated; switch to its successor (authorizationId ${caller.rotatedTo}) before ${caller.graceEndsAt}.`;
  } else if (violations.length > 0) {
    hint = 'This PAT breaks the organization token policies; rotate it (POST …/_apis/tokens/pats/self/rotate) or create a compliant one.';
  } else if (daysLeft < ROTATION_DUE_DAYS) {
    hint = `This PAT expires in ${daysLeft} day(s); rotate it with POST …/_apis/tokens/pats/self/rotate.`;
  }
  return {
    authorizationId: caller.authorizationId,
    displayName: caller.tokenName,
    scope: [...caller.scopes].join(' '),
    targetAccounts: caller.organizationIds === null ? null : [...caller.organizationIds],
    validFrom: caller.validFrom,
    validTo: caller.validTo,
    daysLeft,
    lastUsed: lastUsedView(usage),
    rotatedTo: caller.rotatedTo,
    graceEndsAt: caller.graceEndsAt,
    policy: { compliant: violations.length === 0, violations, reasons: violations.map((name) => POLICY_REASONS[name] ?? `It breaks the ${name} policy.`) },
    rotation: { due: hint !== null, hint },
  };
}

// ---- connectionData ------------------------------------------------------------------------------

const identitySchema = z.object({
  id: z.string(),
  descriptor: z.string(),
  subjectDescriptor: z.string(),
  providerDisplayName: z.string(),
  isActive: z.boolean(),
  properties: z.object({ Account: z.object({ $type: z.string(), $value: z.string() }) }),
  resourceVersion: z.number(),
  metaTypeId: z.number(),
});

export const connectionDataSchema = z.object({
  authenticatedUser: identitySchema,
  authorizedUser: identitySchema,
  instanceId: z.string(),
  deploymentId: z.string(),
  deploymentType: z.string(),
  locationServiceData: z.object({
    serviceOwner: z.string(),
    defaultAccessMappingMoniker: z.string(),
    lastChangeId: z.number(),
    lastChangeId64: z.number(),
  }),
  authorizationId: z.string().optional().describe('PAT callers only.'),
  scopes: z.string().optional().describe('PAT callers only: the PAT scopes, space-separated.'),
  validTo: z.string().optional().describe('PAT callers only.'),
});

/** Azure DevOps' connectionData shape for the caller (a user token or a PAT, which acts as its owner). */
export async function connectionData(app: AppContext, caller: Exclude<Caller, { kind: 'servicePrincipal' }>, organization: Organization) {
  let email = caller.email;
  let displayName = caller.displayName;
  let tenantId = caller.tenantId;
  if (caller.kind === 'pat' && (!email || !tenantId)) {
    const user = await app.directory.getUser(caller.id);
    email ||= user?.email ?? '';
    displayName = user?.displayName ?? displayName;
    tenantId ||= user?.tenantId ?? '';
  }
  const identity = {
    id: caller.id,
    descriptor: `Microsoft.IdentityModel.Claims.ClaimsIdentity;${tenantId}\\${email}`,
    subjectDescriptor: subjectDescriptor('user', caller.id),
    providerDisplayName: displayName,
    isActive: true,
    properties: { Account: { $type: 'System.String', $value: email } },
    resourceVersion: 2,
    metaTypeId: 0,
  };
  return {
    authenticatedUser: identity,
    authorizedUser: identity,
    instanceId: organization.id,
    deploymentId: organization.id,
    deploymentType: 'hosted',
    locationServiceData: {
      serviceOwner: '00025394-6065-48ca-87d9-7f5672854ef7',
      defaultAccessMappingMoniker: 'PublicAccessMapping',
      lastChangeId: 0,
      lastChangeId64: 0,
    },
    ...(caller.kind === 'pat' ? { authorizationId: caller.authorizationId, scopes: [...caller.scopes].join(' '), validTo: caller.validTo } : {}),
  };
}

// ---- introspection (RFC 7662) --------------------------------------------------------------------

export const introspectionRequest = z
  .object({
    token: z.string().max(4096).describe('The token to introspect.'),
    token_type_hint: z.string().max(64).optional().describe('Ignored (RFC 7662 allows that).'),
    organization: z
      .string()
      .max(64)
      .optional()
      .describe('The organization (name or id) the token is to be used in; default: the one it was issued in. The caller must be a member of it.'),
  })
  .loose();

export const introspectionResponse = z.union([
  z.object({
    active: z.literal(true),
    scope: z.string(),
    sub: z.string().describe("The owner's user id."),
    username: z.string().describe("The owner's email (user principal name)."),
    org: z.string().nullable().describe('The organization id the PAT targets; null for a global PAT.'),
    exp: z.number().describe('Seconds since the epoch when it stops working (validTo, or the end of a rotation grace period).'),
    iat: z.number().describe('Seconds since the epoch of validFrom.'),
    token_type: z.literal('pat'),
    authorization_id: z.string(),
  }),
  z.object({ active: z.literal(false) }).strict(),
]);

/**
 * RFC 7662 for a service principal: the token is judged exactly as authentication judges it, in the
 * organization named (or the one it was issued in), which the caller must belong to; anything else
 * is `{"active": false}`.
 */
export async function introspect(app: AppContext, caller: ServicePrincipalCaller, body: { token: string; organization?: string | undefined }) {
  const inactive = { active: false as const };
  let organization: Organization | undefined;
  if (body.organization !== undefined) {
    organization = isGuid(body.organization)
      ? await app.directory.getOrganizationById(body.organization.toLowerCase())
      : await app.directory.getOrganizationByName(body.organization);
    if (!organization) return inactive;
  }
  const result = await evaluatePat(app, body.token, organization);
  if (!result.ok) return inactive;
  if (!(await app.directory.getMembership(result.organization.id, 'servicePrincipal', caller.id))) return inactive;
  const { snapshot } = result;
  const ends = Math.min(Date.parse(snapshot.validTo), snapshot.graceEndsAt ? Date.parse(snapshot.graceEndsAt) : Infinity);
  return {
    active: true as const,
    scope: snapshot.scope,
    sub: snapshot.ownerId,
    username: snapshot.owner.email || snapshot.ownerId,
    org: snapshot.targetAccounts === null ? null : (snapshot.targetAccounts[0] ?? null),
    exp: Math.floor(ends / 1000),
    iat: Math.floor(Date.parse(snapshot.validFrom) / 1000),
    token_type: 'pat' as const,
    authorization_id: snapshot.authorizationId,
  };
}
