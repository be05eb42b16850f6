import type { PipelineGrantSettings } from '../config.js';
import type { GrantReason, ReviewOutcome } from './schemas.js';
import { DAY_MS } from '../time.js';

/**
 * The review rules of free pipeline grant requests, as a table. Each rule looks at the facts of one
 * request and either stays silent or fires with a message that explains itself; the request's outcome
 * is the strictest outcome of the rules that fired (rejected > manual review > approved), and every
 * fired rule is kept as a reason of the decision.
 */

export interface ReviewFacts {
  readonly now: Date;
  readonly organization: { readonly id: string; readonly name: string; readonly createdAt: string };
  readonly description: string;
  readonly projectNames: readonly string[];
  readonly repositories: readonly { readonly url: string; readonly host: string; readonly key: string }[];
  /** Repositories that an approved grant of another organization already names. */
  readonly repositoriesGrantedElsewhere: readonly { readonly url: string; readonly organizationName: string; readonly revoked: boolean }[];
  /** Requests (this one included) submitted with the requester's email within the window. */
  readonly requestsFromEmail: number;
  /** When this organization's grant was last revoked, if ever. */
  readonly revokedAt: string | undefined;
}

export interface GrantRule {
  readonly id: string;
  readonly outcome: Exclude<ReviewOutcome, 'approved'>;
  /** What the rule checks, for documentation and operators. */
  readonly summary: string;
  readonly check: (facts: ReviewFacts, settings: PipelineGrantSettings) => Omit<GrantReason, 'rule' | 'outcome'> | undefined;
}

function escapeRegExp(value: string): string {
  return value.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** Terms match as whole words: `miner` finds "xmr-miner" and "Miner2" but not "examiner" or "minerals". */
export function findTerms(text: string, terms: readonly string[]): string[] {
  const lower = text.toLowerCase();
  return terms.filter((term) => new RegExp(`(?<![a-z])${escapeRegExp(term)}(?![a-z])`).test(lower));
}

function decodePath(url: string): string {
  try {
    return decodeURIComponent(new URL(url).pathname);
  } catch {
    return url;
  }
}

export const GRANT_RULES: readonly GrantRule[] = [
  {
    id: 'miningTerms',
    outcome: 'rejected',
    summary: 'The description, a repository or a project name mentions crypto-mining (GRANT_MINING_TERMS).',
    check: (facts, settings) => {
      const found: string[] = [];
      const description = findTerms(facts.description, settings.miningTerms);
      if (description.length > 0) found.push(`${description.map((term) => `"${term}"`).join(', ')} in the description`);
      for (const repository of facts.repositories) {
        const terms = findTerms(decodePath(repository.url), settings.miningTerms);
        if (terms.length > 0) found.push(`${terms.map((term) => `"${term}"`).join(', ')} in repository ${repository.url}`);
      }
      for (const name of facts.projectNames) {
        const terms = findTerms(name, settings.miningTerms);
        if (terms.length > 0) found.push(`${terms.map((term) => `"${term}"`).join(', ')} in project ${name}`);
      }
      return found.length > 0 ? { message: `Mentions crypto-mining: ${found.join('; ')}.` } : undefined;
    },
  },
  {
    id: 'hostNotAllowed',
    outcome: 'rejected',
    summary: 'A repository is hosted outside the allow-list of public code hosts (GRANT_ALLOWED_HOSTS).',
    check: (facts, settings) => {
      const allowed = new Set(settings.allowedHosts);
      const hosts = [...new Set(facts.repositories.map((repository) => repository.host))].filter(
        (host) => !allowed.has(host) && !allowed.has(host.replace(/^www\./, '')),
      );
      return hosts.length > 0
        ? { message: `Repositories must be on a known public host (${settings.allowedHosts.join(', ')}); not allowed: ${hosts.join(', ')}.` }
        : undefined;
    },
  },
  {
    id: 'youngOrganization',
    outcome: 'manualReview',
    summary: 'The organization is younger than GRANT_MIN_ORGANIZATION_AGE_DAYS.',
    check: (facts, settings) => {
      const ageMs = facts.now.getTime() - new Date(facts.organization.createdAt).getTime();
      if (ageMs >= settings.minOrganizationAgeDays * DAY_MS) return undefined;
      const days = Math.max(0, Math.floor(ageMs / DAY_MS));
      return {
        message: `The organization was created ${days} day(s) ago; organizations younger than ${settings.minOrganizationAgeDays} days are reviewed by an operator.`,
      };
    },
  },
  {
    id: 'repositoryAlreadyGranted',
    outcome: 'manualReview',
    summary: "A repository is already named by another organization's grant (current or revoked).",
    check: (facts) => {
      if (facts.repositoriesGrantedElsewhere.length === 0) return undefined;
      const urls = [...new Set(facts.repositoriesGrantedElsewhere.map((entry) => entry.url))];
      return {
        message: `Already named by another organization's grant: ${urls.join(', ')}.`,
        details: { grantedElsewhere: facts.repositoriesGrantedElsewhere.map((entry) => ({ ...entry })) },
      };
    },
  },
  {
    id: 'manyRequestsFromEmail',
    outcome: 'manualReview',
    summary: 'GRANT_MAX_REQUESTS_PER_EMAIL or more requests from one email within GRANT_REQUEST_WINDOW_DAYS.',
    check: (facts, settings) =>
      facts.requestsFromEmail >= settings.maxRequestsPerEmail
        ? {
            message: `${facts.requestsFromEmail} requests were submitted with this requester email in the last ${settings.requestWindowDays} days (review from ${settings.maxRequestsPerEmail}).`,
          }
        : undefined,
  },
  {
    id: 'previouslyRevoked',
    outcome: 'manualReview',
    summary: "The organization's grant was revoked before.",
    check: (facts) => (facts.revokedAt ? { message: `The organization's free grant was revoked on ${facts.revokedAt.slice(0, 10)}.` } : undefined),
  },
];

const SEVERITY: Record<ReviewOutcome, number> = { approved: 0, manualReview: 1, rejected: 2 };

export interface Review {
  readonly outcome: ReviewOutcome;
  readonly reasons: GrantReason[];
}

/** Runs every rule; the outcome is the strictest of those that fired, or approval when none did. */
export function reviewGrantRequest(facts: ReviewFacts, settings: PipelineGrantSettings, rules: readonly GrantRule[] = GRANT_RULES): Review {
  const reasons: GrantReason[] = [];
  for (const rule of rules) {
    const result = rule.check(facts, settings);
    if (result) reasons.push({ rule: rule.id, outcome: rule.outcome, ...result });
  }
  if (reasons.length === 0) {
    return { outcome: 'approved', reasons: [{ rule: 'allRulesPassed', outcome: 'approved', message: 'No review rule flagged the request.' }] };
  }
  const outcome = reasons.reduce<ReviewOutcome>((worst, reason) => (SEVERITY[reason.outcome] > SEVERITY[worst] ? reason.outcome : worst), 'approved');
  return { outcome, reasons };
}
