import { z } from 'zod';
import { exemptFrom as exempt, type TokenPolicyDocument } from './policies.js';

/**
 * The token policies as they apply to one person (exemptions resolved): what the portal shows before
 * someone creates or renews a token. It says nothing about other people or the exemption lists.
 */
export const policySummarySchema = z.object({
  /** The longest lifetime a new or renewed PAT may have, in days; null when unlimited. */
  maxPatLifespanDays: z.number().int().nullable(),
  fullScopePatsAllowed: z.boolean(),
  globalPatsAllowed: z.boolean(),
  /** `packagingOnly`: only PATs whose scopes are all packaging scopes may be created. */
  patCreation: z.enum(['allowed', 'packagingOnly', 'restricted']),
  sshKeysAllowed: z.boolean(),
  sshKeyMaxLifespanDays: z.number().int().nullable(),
});

export type PolicySummary = z.infer<typeof policySummarySchema>;

export function policySummaryFor(policies: TokenPolicyDocument, userId: string): PolicySummary {
  const applies = (section: { enabled: boolean; exemptUsers: string[] }) => section.enabled && !exempt(section, userId);
  const creation = policies.restrictPatCreation;
  return {
    maxPatLifespanDays: applies(policies.maxPatLifespan) ? policies.maxPatLifespan.maxDays : null,
    fullScopePatsAllowed: !applies(policies.restrictFullScopePats),
    globalPatsAllowed: !applies(policies.restrictGlobalPats),
    patCreation: !applies(creation) ? 'allowed' : creation.allowPackagingScopes ? 'packagingOnly' : 'restricted',
    sshKeysAllowed: policies.sshKeys.allowed,
    sshKeyMaxLifespanDays: exempt(policies.sshKeys, userId) ? null : policies.sshKeys.maxLifespanDays,
  };
}

const strictest = (a: number | null, b: number | null) => (a === null ? b : b === null ? a : Math.min(a, b));
const CREATION_ORDER = ['allowed', 'packagingOnly', 'restricted'] as const;

/** The summary through every layer (the organization's and its tenant's): the strictest of each. */
export function layeredPolicySummaryFor(layers: readonly TokenPolicyDocument[], userId: string): PolicySummary {
  return layers
    .map((layer) => policySummaryFor(layer, userId))
    .reduce((a, b) => ({
      maxPatLifespanDays: strictest(a.maxPatLifespanDays, b.maxPatLifespanDays),
      fullScopePatsAllowed: a.fullScopePatsAllowed && b.fullScopePatsAllowed,
      globalPatsAllowed: a.globalPatsAllowed && b.globalPatsAllowed,
      patCreation: CREATION_ORDER[Math.max(CREATION_ORDER.indexOf(a.patCreation), CREATION_ORDER.indexOf(b.patCreation))] ?? 'restricted',
      sshKeysAllowed: a.sshKeysAllowed && b.sshKeysAllowed,
      sshKeyMaxLifespanDays: strictest(a.sshKeyMaxLifespanDays, b.sshKeyMaxLifespanDays),
    }));
}
