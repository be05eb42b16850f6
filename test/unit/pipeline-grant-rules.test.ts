import { describe, expect, it } from 'vitest';
import { loadConfig, type PipelineGrantSettings } from '../../shared/config.js';
import { BASE_SETTINGS } from '../helpers/settings.js';
import { findTerms, GRANT_RULES, reviewGrantRequest, type ReviewFacts } from '../../shared/pipelines/rules.js';

const env = BASE_SETTINGS;
const settings: PipelineGrantSettings = loadConfig(env).pipelines;
const NOW = new Date('2025-06-01T12:00:00Z');
const DAY = 24 * 60 * 60 * 1000;

function facts(overrides: Partial<ReviewFacts> = {}): ReviewFacts {
  return {
    now: NOW,
    organization: { id: 'o', name: 'acme', createdAt: new Date(NOW.getTime() - 90 * DAY).toISOString() },
    description: 'A static site generator for documentation, maintained by a small group of volunteers since 2019.',
    projectNames: ['docs'],
    repositories: [{ url: 'https://github.com/acme/docs', host: 'github.com', key: 'github.com/acme/docs' }],
    repositoriesGrantedElsewhere: [],
    requestsFromEmail: 1,
    revokedAt: undefined,
    ...overrides,
  };
}

describe('grant review rules', () => {
  const cases: { name: string; facts: Partial<ReviewFacts>; outcome: string; rules: string[] }[] = [
    { name: 'clean request', facts: {}, outcome: 'approved', rules: ['allRulesPassed'] },
    {
      name: 'mining term in the description',
      facts: { description: 'We benchmark the NiceHash API and payouts.' },
      outcome: 'rejected',
      rules: ['miningTerms'],
    },
    {
      name: 'mining term in a repository path',
      facts: { repositories: [{ url: 'https://github.com/acme/cpu-miner', host: 'github.com', key: 'github.com/acme/cpu-miner' }] },
      outcome: 'rejected',
      rules: ['miningTerms'],
    },
    { name: 'mining term in a project name', facts: { projectNames: ['Monero-Wallet'] }, outcome: 'rejected', rules: ['miningTerms'] },
    {
      name: 'host outside the allow-list',
      facts: { repositories: [{ url: 'https://git.acme.io/acme/docs', host: 'git.acme.io', key: 'git.acme.io/acme/docs' }] },
      outcome: 'rejected',
      rules: ['hostNotAllowed'],
    },
    {
      name: 'young organization',
      facts: { organization: { id: 'o', name: 'acme', createdAt: new Date(NOW.getTime() - 2 * DAY).toISOString() } },
      outcome: 'manualReview',
      rules: ['youngOrganization'],
    },
    {
      name: 'repository granted to another organization',
      facts: { repositoriesGrantedElsewhere: [{ url: 'https://github.com/acme/docs', organizationName: 'other', revoked: true }] },
      outcome: 'manualReview',
      rules: ['repositoryAlreadyGranted'],
    },
    { name: 'many requests from one email', facts: { requestsFromEmail: 3 }, outcome: 'manualReview', rules: ['manyRequestsFromEmail'] },
    { name: 'previously revoked', facts: { revokedAt: '2025-05-01T00:00:00.000Z' }, outcome: 'manualReview', rules: ['previouslyRevoked'] },
    {
      name: 'rejection wins over manual review, and every reason is kept',
      facts: { description: 'Mining pool dashboard with hashrate charts for our rigs.', requestsFromEmail: 5, revokedAt: '2025-05-01T00:00:00.000Z' },
      outcome: 'rejected',
      rules: ['miningTerms', 'manyRequestsFromEmail', 'previouslyRevoked'],
    },
  ];

  it.each(cases)('$name → $outcome', ({ facts: overrides, outcome, rules }) => {
    const review = reviewGrantRequest(facts(overrides), settings);
    expect(review.outcome).toBe(outcome);
    expect(review.reasons.map((reason) => reason.rule)).toEqual(rules);
    for (const reason of review.reasons) expect(reason.message.length).toBeGreaterThan(10);
  });

  it('has one rule per documented signal, each with a summary', () => {
    expect(GRANT_RULES.map((rule) => rule.id)).toEqual([
      'miningTerms',
      'hostNotAllowed',
      'youngOrganization',
      'repositoryAlreadyGranted',
      'manyRequestsFromEmail',
      'previouslyRevoked',
    ]);
    for (const rule of GRANT_RULES) expect(rule.summary).toBeTruthy();
  });

  it('matches mining terms as whole words only', () => {
    expect(findTerms('xmr-miner v2, Miner2 and XMRig', settings.miningTerms)).toEqual(['miner', 'xmrig']);
    expect(findTerms('An examiner of minerals; data mining of logs', settings.miningTerms)).toEqual([]);
    expect(findTerms('connect to stratum+tcp://pool', settings.miningTerms)).toEqual(['stratum+tcp']);
  });

  it('uses the configured thresholds', () => {
    const strict = loadConfig({
      ...env,
      GRANT_MIN_ORGANIZATION_AGE_DAYS: '120',
      GRANT_MAX_REQUESTS_PER_EMAIL: '1',
      GRANT_ALLOWED_HOSTS: 'gitlab.com',
      GRANT_MINING_TERMS: 'docs',
    }).pipelines;
    const review = reviewGrantRequest(facts(), strict);
    expect(review.reasons.map((reason) => reason.rule)).toEqual(['miningTerms', 'hostNotAllowed', 'youngOrganization', 'manyRequestsFromEmail']);
    expect(reviewGrantRequest(facts({ requestsFromEmail: 2 }), settings).outcome).toBe('approved');
  });
});
