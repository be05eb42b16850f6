import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { BASE_SETTINGS, configProblems as problems } from '../helpers/settings.js';

const valid = BASE_SETTINGS;

describe('pipeline grant settings', () => {
  it('has defaults: every 15 minutes, 10 public jobs of 360 minutes, 1 private job of 60 minutes and 1800 a month', () => {
    const { pipelines } = loadConfig(valid);
    expect(pipelines.reviewSchedule).toBe('0 */15 * * * *');
    expect(pipelines.publicGrant).toEqual({ parallelJobs: 10, maxMinutesPerJob: 360 });
    expect(pipelines.privateDefault).toEqual({ parallelJobs: 1, maxMinutesPerJob: 60, monthlyMinutes: 1800 });
    expect(pipelines.allowedHosts).toContain('github.com');
    expect(pipelines.miningTerms).toContain('xmrig');
    expect(pipelines).toMatchObject({ reviewBatchSize: 50, minOrganizationAgeDays: 7, maxRequestsPerEmail: 3, requestWindowDays: 30 });
  });

  it('reads overrides and normalizes lists', () => {
    const { pipelines } = loadConfig({
      ...valid,
      GRANT_ALLOWED_HOSTS: ' GitHub.com , gitlab.com,,github.com',
      GRANT_PUBLIC_PARALLEL_JOBS: '25',
      GRANT_REVIEW_SCHEDULE: '0 0 * * * *',
    });
    expect(pipelines.allowedHosts).toEqual(['github.com', 'gitlab.com']);
    expect(pipelines.publicGrant.parallelJobs).toBe(25);
    expect(pipelines.reviewSchedule).toBe('0 0 * * * *');
  });

  it('fails start-up on a malformed schedule or invalid thresholds, naming the setting', () => {
    const found = problems({
      ...valid,
      GRANT_REVIEW_SCHEDULE: '*/15 * * * *',
      GRANT_PUBLIC_PARALLEL_JOBS: '0',
      GRANT_ALLOWED_HOSTS: 'https://github.com',
      GRANT_MINING_TERMS: 'x',
    });
    expect(found.some((problem) => problem.startsWith('GRANT_REVIEW_SCHEDULE:') && problem.includes('six-field'))).toBe(true);
    expect(found.some((problem) => problem.startsWith('GRANT_PUBLIC_PARALLEL_JOBS:'))).toBe(true);
    expect(found.some((problem) => problem.startsWith('GRANT_ALLOWED_HOSTS'))).toBe(true);
    expect(found.some((problem) => problem.startsWith('GRANT_MINING_TERMS'))).toBe(true);
    expect(problems({ ...valid, GRANT_REVIEW_SCHEDULE: '0 */99 * * * *' }).some((problem) => problem.startsWith('GRANT_REVIEW_SCHEDULE:'))).toBe(true);
  });
});
