import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { RateLimiter } from '../../shared/http/rate-limit.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client, type Reply } from '../helpers/client.js';

let env: TestEnvironment;
const api = client(() => env);
beforeAll(async () => {
  env = await startTestEnvironment({ settings: { RATE_LIMIT_WRITES_PER_MINUTE: '5', RATE_LIMIT_ANONYMOUS_PER_MINUTE: '4' } });
});
afterAll(async () => {
  await env?.stop();
});

describe('rate limits', () => {
  it('limits anonymous requests per client IP with 429 and Retry-After, then refills with time', async () => {
    const statuses: number[] = [];
    let last: Reply | undefined;
    for (let i = 0; i < 6; i += 1) {
      last = await api.get('/health', { headers: { 'x-forwarded-for': '203.0.113.7' } });
      statuses.push(last.status);
    }
    expect(statuses).toEqual([200, 200, 200, 200, 429, 429]);
    expect(Number(last?.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(last!.body.code).toBe('rateLimited');
    expect((await api.get('/health', { headers: { 'x-forwarded-for': '203.0.113.8' } })).status).toBe(200);
    env.clock.advance(60_000);
    expect((await api.get('/health', { headers: { 'x-forwarded-for': '203.0.113.7' } })).status).toBe(200);
  });

  it('limits write requests per caller, not reads, and not other callers', async () => {
    const token = await env.userToken('alice@contoso.com');
    const statuses: number[] = [];
    for (let i = 0; i < 7; i += 1) statuses.push((await api.as(token).post('/contoso/_apis/projects?api-version=7.1', { name: `limited-${i}` })).status);
    expect(statuses.slice(0, 5)).toEqual([201, 201, 201, 201, 201]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    expect((await api.as(token).get('/contoso/_apis/projects?api-version=7.1')).status).toBe(200);
    const erin = await env.userToken('erin@fabrikam.com');
    const other = await api.as(erin).post('/fabrikam/_apis/projects?api-version=7.1', { name: 'other' });
    expect(other.status).toBe(201);
  });

  it('keeps a bounded number of buckets', () => {
    const limiter = new RateLimiter(1, 3);
    for (const key of ['a', 'b', 'c', 'd']) expect(limiter.take(key, 0).allowed).toBe(true);
    expect(limiter.take('a', 0).allowed).toBe(true);
    expect(limiter.take('d', 0).allowed).toBe(false);
  });
});
