import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { BOB, DAVE } from '../helpers/demo.js';

// What the portal shows before someone creates a token: the policies as they apply to that person.
let env: TestEnvironment;
const V = 'api-version=7.1';

beforeAll(async () => {
  env = await startTestEnvironment();
});

afterAll(async () => {
  await env?.stop();
});

async function mine(email: string) {
  const response = await env.fetch(`/contoso/_apis/tokens/policies/mine?${V}`, { token: await env.userToken(email) });
  return { status: response.status, body: (await response.json()) as Record<string, unknown> };
}

describe('GET tokens/policies/mine', () => {
  it('resolves exemptions for the caller and reveals neither the exemption lists nor other sections', async () => {
    expect((await mine('bob@contoso.com')).body).toEqual({
      maxPatLifespanDays: null,
      fullScopePatsAllowed: true,
      globalPatsAllowed: true,
      patCreation: 'allowed',
      sshKeysAllowed: true,
      sshKeyMaxLifespanDays: null,
    });
    const saved = await env.fetch(`/contoso/_apis/tokens/policies?${V}`, {
      method: 'PUT',
      token: await env.userToken('alice@contoso.com'),
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        maxPatLifespan: { enabled: true, maxDays: 30, exemptUsers: [BOB.id] },
        restrictGlobalPats: { enabled: true },
        restrictPatCreation: { enabled: true, allowPackagingScopes: true, exemptUsers: [BOB.id] },
      }),
    });
    expect(saved.status).toBe(200);
    await saved.body?.cancel();
    const bob = await mine('bob@contoso.com');
    expect(bob.body).toMatchObject({ maxPatLifespanDays: null, globalPatsAllowed: false, patCreation: 'allowed' });
    const dave = await mine(DAVE.email);
    expect(dave.body).toMatchObject({ maxPatLifespanDays: 30, globalPatsAllowed: false, patCreation: 'packagingOnly' });
    expect(JSON.stringify(dave.body)).not.toContain(BOB.id);
  });

  it('is for members only: another organization gets 404', async () => {
    expect((await mine('erin@fabrikam.com')).status).toBe(404);
  });
});
