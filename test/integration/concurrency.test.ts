import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';

/**
 * Fifty concurrent renew, revoke and rotate calls on one token: every call gets a defined answer,
 * the token ends revoked, at most one successor exists, and no later call revives it.
 */
let env: TestEnvironment;
const api = client(() => env);
let bob: string;
beforeAll(async () => {
  env = await startTestEnvironment();
  bob = await env.userToken('bob@contoso.com');
});
afterAll(async () => {
  await env?.stop();
});

const V = 'api-version=7.1-preview.1';
const day = 86_400_000;

describe('concurrent lifecycle operations on one token', () => {
  it('ends consistent: revoked stays revoked, one successor at most, every answer defined', async () => {
    const created = await api.as(bob).post(`/contoso/_apis/tokens/pats?${V}`, {
      displayName: 'contended',
      scope: 'vso.code',
      validTo: new Date(env.clock.now().getTime() + 10 * day).toISOString(),
      allOrgs: false,
    });
    const { authorizationId, token } = created.body.patToken as { authorizationId: string; token: string };

    const later = <T>(ms: number, work: () => Promise<T>) => new Promise((resolve) => setTimeout(resolve, ms)).then(work);
    // Renewals and rotations start first; revocations join a little later, so all three interleave.
    const operations = Array.from({ length: 50 }, (_, i) =>
      later(i % 3 === 1 ? 20 + i : i, () => {
        switch (i % 3) {
          case 0:
            return api.as(bob).put(`/contoso/_apis/tokens/pats?${V}`, {
              authorizationId,
              validTo: new Date(env.clock.now().getTime() + (20 + i) * day).toISOString(),
            });
          case 1:
            return api.as(bob).delete(`/contoso/_apis/tokens/pats?${V}&authorizationId=${authorizationId}`);
          default:
            return api.as(bob).post(`/contoso/_apis/tokens/pats/rotate?${V}&authorizationId=${authorizationId}&gracePeriodMinutes=${i % 2 === 0 ? 0 : 30}`);
        }
      }),
    );
    const results = await Promise.all(operations);
    const outcomes = new Map<string, number>();
    for (const result of results) {
      expect(result.status).toBeLessThan(500);
      const key = `${result.status} ${result.body?.patTokenError ?? result.body?.code ?? ''}`.trim();
      outcomes.set(key, (outcomes.get(key) ?? 0) + 1);
      if (result.status >= 400) expect(result.body?.patTokenError ?? result.body?.code, JSON.stringify(result.body)).toBeTruthy();
    }
    console.log(`50 concurrent calls: ${JSON.stringify(Object.fromEntries(outcomes))}`);

    const final = await api.as(bob).get(`/contoso/_apis/tokens/pats?${V}&authorizationId=${authorizationId}`);
    const list = await api.as(bob).get(`/contoso/_apis/tokens/pats?${V}&displayFilterOption=all&$top=100`);
    const successors = (list.body.patTokens as { authorizationId: string; displayName: string }[]).filter(
      (pat) => pat.displayName === 'contended' && pat.authorizationId !== authorizationId,
    );
    expect(successors.length).toBeLessThanOrEqual(1);
    const rotations = results.filter((result, i) => i % 3 === 2 && result.status === 200);
    expect(rotations.length).toBe(successors.length);

    // Revoke once more so the end state is known, then try to revive it.
    expect((await api.as(bob).delete(`/contoso/_apis/tokens/pats?${V}&authorizationId=${authorizationId}`)).status).toBeLessThan(300);
    const revive = await Promise.all(
      Array.from({ length: 10 }, (_, i) =>
        api.as(bob).put(`/contoso/_apis/tokens/pats?${V}`, { authorizationId, validTo: new Date(env.clock.now().getTime() + (40 + i) * day).toISOString() }),
      ),
    );
    expect(revive.every((r) => r.status >= 400 && r.status < 500)).toBe(true);
    const after = await api.as(bob).get(`/contoso/_apis/tokens/pats?${V}&authorizationId=${authorizationId}`);
    expect(after.body.patToken.validTo).toBe(final.body.patToken.validTo);
    const revoked = await api.as(bob).get(`/contoso/_apis/tokens/pats?${V}&displayFilterOption=revoked&$top=100`);
    expect((revoked.body.patTokens as { authorizationId: string }[]).some((pat) => pat.authorizationId === authorizationId)).toBe(true);
    const active = await api.as(bob).get(`/contoso/_apis/tokens/pats?${V}&displayFilterOption=active&$top=100`);
    expect((active.body.patTokens as { authorizationId: string }[]).some((pat) => pat.authorizationId === authorizationId)).toBe(false);
    const used = await api.withAuthorization(`Basic ${Buffer.from(`:${token}`).toString('base64')}`).get(`/contoso/_apis/connectionData?api-version=7.1`);
    expect(used.status).toBe(401);
  }, 120_000);
});
