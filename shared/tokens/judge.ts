import type { AppContext } from '../app-context.js';
import type { Organization } from '../directory/repository.js';
import { rulesOf, type RevocationRule } from './rules.js';
import { exemptFrom, policyLayers, violationsOf, type PolicyName, type TokenPolicyDocument } from './policies.js';
import { isPackagingOnly, scopesMatch } from './scopes.js';
import type { SshKeyType } from './ssh-key-types.js';

/**
 * The one place that decides whether a credential is good in an organization. Authentication (every
 * route that takes a PAT, package feeds included), introspection, the SSH key lookup and rotation all
 * ask it, so a rule, a policy or a membership change holds on every path at once.
 *
 * A credential is good in an organization when it is live (not revoked, expired, not yet valid or
 * past a rotation's grace), reaches the organization (targets it, or is global and of the
 * organization's tenant), was not revoked there by its administrators, its owner is a member, no
 * revocation rule of the organization matches its lineage, and it satisfies the policies of the
 * organization and of the organization's tenant as they are now (not only as they were when it was
 * made).
 */
export interface CredentialFacts {
  readonly kind: 'pat' | 'sshKey';
  readonly ownerId: string;
  /** The owner's tenant, as captured when the credential was issued. */
  readonly ownerTenantId: string;
  /** The organization it was issued in. */
  readonly issuedIn: string;
  /** Organization ids it targets; null for a global PAT. */
  readonly targets: readonly string[] | null;
  /** Organizations whose administrators revoked it there (a global PAT keeps working elsewhere). */
  readonly blockedIn: readonly string[];
  readonly validFrom: string;
  /** When the first credential of its rotation chain was issued: revocation rules judge this. */
  readonly lineageStartedAt: string;
  readonly validTo: string;
  readonly revokedAt: string | null;
  readonly graceEndsAt: string | null;
  readonly scopes: readonly string[];
  readonly sshKey?: { readonly keyType: SshKeyType; readonly keySize: number };
}

export type Refusal =
  'revoked' | 'expired' | 'notYetValid' | 'rotated' | 'wrongOrganization' | 'otherTenant' | 'blockedInOrganization' | 'notMember' | 'revocationRule' | 'policy';

export type Verdict =
  | { readonly ok: true; readonly violations: readonly PolicyName[] }
  | { readonly ok: false; readonly reason: Refusal; readonly violations: readonly PolicyName[] };

export interface JudgeOptions {
  /**
   * `report`: policy violations are returned but do not refuse (a PAT's own self lookup and self
   * rotation, so that it can learn why it is refused and replace itself).
   */
  readonly policies?: 'enforce' | 'report';
}

/** Refusals that do not depend on the organization (checked first, without storage). */
export function liveness(facts: Pick<CredentialFacts, 'revokedAt' | 'validFrom' | 'validTo' | 'graceEndsAt'>, now: number): Refusal | undefined {
  if (facts.revokedAt) return 'revoked';
  if (!(Date.parse(facts.validFrom) <= now)) return 'notYetValid';
  if (!(now < Date.parse(facts.validTo))) return 'expired';
  if (facts.graceEndsAt && !(now < Date.parse(facts.graceEndsAt))) return 'rotated';
  return undefined;
}

/** Whether the credential reaches the organization at all (targeting, tenant, per-organization revocation). */
export function reach(facts: CredentialFacts, organization: Pick<Organization, 'id' | 'tenantId'>): Refusal | undefined {
  if (facts.targets === null) {
    if (!organization.tenantId || facts.ownerTenantId.toLowerCase() !== organization.tenantId.toLowerCase()) return 'otherTenant';
  } else if (!facts.targets.includes(organization.id)) {
    return 'wrongOrganization';
  }
  if (facts.blockedIn.includes(organization.id)) return 'blockedInOrganization';
  return undefined;
}

export async function judgeCredential(
  app: AppContext,
  facts: CredentialFacts,
  organization: Pick<Organization, 'id' | 'tenantId'>,
  options: JudgeOptions = {},
): Promise<Verdict> {
  const refuse = (reason: Refusal, violations: readonly PolicyName[] = []): Verdict => ({ ok: false, reason, violations });
  const early = liveness(facts, app.clock.now().getTime()) ?? reach(facts, organization);
  if (early) return refuse(early);
  const [membership, rules, layers] = await Promise.all([
    app.directory.getMembership(organization.id, 'user', facts.ownerId),
    facts.kind === 'pat' ? rulesOf(app, organization.id) : Promise.resolve([]),
    policyLayers(app, organization),
  ]);
  if (!membership) return refuse('notMember');
  if (rules.some((rule) => ruleMatchesFacts(rule, facts))) return refuse('revocationRule');
  const violations = violationsAtUse(layers, facts, organization.id);
  if (violations.length > 0 && options.policies !== 'report') return refuse('policy', violations);
  return { ok: true, violations };
}

export const ruleMatchesFacts = (rule: RevocationRule, facts: Pick<CredentialFacts, 'lineageStartedAt' | 'scopes'>) =>
  Date.parse(facts.lineageStartedAt) < Date.parse(rule.createdBefore) && scopesMatch([...facts.scopes], rule.scopes);

/**
 * The policies a credential breaks where it is used, through every layer. For PATs: lifespan, full
 * scope and global as when made; "restrict PAT creation" refuses, for a user it does not exempt,
 * PATs issued in another organization and global PATs (Azure DevOps blocks global PATs there too).
 * For SSH keys: the organization's SSH policy.
 */
export function violationsAtUse(layers: readonly TokenPolicyDocument[], facts: CredentialFacts, organizationId: string): PolicyName[] {
  const found = new Set<PolicyName>();
  for (const layer of layers) {
    if (facts.kind === 'sshKey') {
      if (facts.sshKey && !sshKeyUsable(layer, facts.ownerId, facts.sshKey)) found.add('sshKeys');
      continue;
    }
    const shape = {
      scopes: facts.scopes,
      global: facts.targets === null,
      validFrom: new Date(facts.validFrom),
      validTo: new Date(facts.validTo),
    };
    for (const name of violationsOf(layer, facts.ownerId, shape)) {
      if (name !== 'restrictPatCreation') found.add(name);
    }
    const creation = layer.restrictPatCreation;
    if (
      creation.enabled &&
      !exemptFrom(creation, facts.ownerId) &&
      (facts.issuedIn !== organizationId || facts.targets === null) &&
      !(creation.allowPackagingScopes && isPackagingOnly(facts.scopes))
    ) {
      found.add('restrictPatCreation');
    }
  }
  return [...found];
}

/** Whether an organization's SSH policy lets this key be used. */
export function sshKeyUsable(policies: TokenPolicyDocument, ownerId: string, key: { keyType: SshKeyType; keySize: number }): boolean {
  const policy = policies.sshKeys;
  if (!policy.allowed) return false;
  if (exemptFrom(policy, ownerId)) return true;
  return policy.allowedKeyTypes.includes(key.keyType) && !(key.keyType === 'ssh-rsa' && key.keySize < policy.minimumRsaBits);
}
