import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateToken } from '../../shared/secrets/format.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client, type Reply } from '../helpers/client.js';
import { createPat } from '../helpers/http.js';

/** Forged PATs (well-formed, checksum-valid, wrong secret) flooding authentication from one address. */
let env: TestEnvironment;
const api = client(() => env);
beforeAll(async () => {
  env = await startTestEnvironment({
    settings: { RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: '8', RATE_LIMIT_AUTH_FAILURES_PER_TOKEN_PER_MINUTE: '5' },
  });
});
afterAll(async () => {
  await env?.stop();
});

const basic = (token: string) => `Basic ${Buffer.from(`:${token}`).toString('base64')}`;
const attempt = (token: string, address: string) =>
  api.withAuthorization(basic(token)).get('/contoso/_apis/connectionData', { headers: { 'x-forwarded-for': address } });

async function statusesOf(tokens: readonly string[], addressOf: (index: number) => string): Promise<{ statuses: number[]; last: Reply }> {
  const statuses: number[] = [];
  let last: Reply | undefined;
  for (const [index, token] of tokens.entries()) {
    last = await attempt(token, addressOf(index));
    statuses.push(last.status);
  }
  return { statuses, last: last! };
}

describe('failed authentication limits', () => {
  it('answers a flood of forged PATs from one address with 429 and Retry-After, not a storage read each', async () => {
    const forged = Array.from({ length: 350 }, () => generateToken('1', randomUUID()));
    const { statuses, last } = await statusesOf(forged, () => '198.51.100.9');
    expect(statuses.slice(0, 8)).toEqual(Array(8).fill(401));
    expect(new Set(statuses.slice(8))).toEqual(new Set([429]));
    expect(Number(last.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
    expect(last.body.code).toBe('rateLimited');

    // While the budget is spent even a good PAT from that address is refused: the answer tells nothing.
    const alice = await env.userToken('alice@contoso.com');
    const pat = await createPat(env, { token: alice }, { scope: 'vso.profile' });
    expect((await attempt(pat.token, '198.51.100.9')).status).toBe(429);
    // Other addresses are not affected, and the budget refills with time.
    expect((await attempt(pat.token, '198.51.100.10')).status).toBe(200);
    env.clock.advance(60_000);
    expect((await attempt(pat.token, '198.51.100.9')).status).toBe(200);
  });

  it('limits guesses at one token id across addresses the same way for an unknown id and a wrong secret', async () => {
    const alice = await env.userToken('alice@contoso.com');
    const pat = await createPat(env, { token: alice }, { scope: 'vso.profile' });
    const unknownId = randomUUID();
    const wrong = Array.from({ length: 7 }, () => generateToken('1', pat.authorizationId));
    const unknown = Array.from({ length: 7 }, () => generateToken('1', unknownId));
    const onWrong = await statusesOf(wrong, (index) => `203.0.113.${index + 1}`);
    const onUnknown = await statusesOf(unknown, (index) => `203.0.113.${index + 101}`);
    expect(onWrong.statuses).toEqual([401, 401, 401, 401, 401, 429, 429]);
    expect(onUnknown.statuses).toEqual(onWrong.statuses);
    const bodyOf = async (response: Reply) => {
      const body = response.body as Record<string, unknown>;
      return { ...body, activityId: undefined, message: String(body.message).replace(/[0-9a-f-]{36}/g, '') };
    };
    expect(await bodyOf(onUnknown.last)).toEqual(await bodyOf(onWrong.last));
    expect(onUnknown.last.headers.get('retry-after')).toBe(onWrong.last.headers.get('retry-after'));

    const first401 = [
      await attempt(generateToken('1', randomUUID()), '192.0.2.1'),
      await attempt(generateToken('1', pat.authorizationId.replace(/^./, 'f')), '192.0.2.2'),
    ];
    const [a, b] = await Promise.all(first401.map(bodyOf));
    expect(a).toEqual(b);
  });
});
