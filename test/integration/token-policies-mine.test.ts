import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { BOB, DAVE } from '../helpers/demo.js';

// What the portal shows before someone creates a token: the policies as they apply to that person.
let env: TestEnvironment;
const api = client(() => env);
const V = 'api-version=7.1';
const MINE = `/contoso/_apis/tokens/policies/mine?${V}`;

beforeAll(async () => {
  env = await startTestEnvironment();
});

afterAll(async () => {
  await env?.stop();
});

describe('GET tokens/policies/mine', () => {
  it('resolves exemptions for the caller and reveals neither the exemption lists nor other sections', async () => {
    expect((await api.asUser('bob@contoso.com').get(MINE)).body).toEqual({
      maxPatLifespanDays: null,
      fullScopePatsAllowed: true,
      globalPatsAllowed: true,
      patCreation: 'allowed',
      sshKeysAllowed: true,
      sshKeyMaxLifespanDays: null,
    });
    const saved = await api.asUser('alice@contoso.com').put(`/contoso/_apis/tokens/policies?${V}`, {
      maxPatLifespan: { enabled: true, maxDays: 30, exemptUsers: [BOB.id] },
      restrictGlobalPats: { enabled: true },
      restrictPatCreation: { enabled: true, allowPackagingScopes: true, exemptUsers: [BOB.id] },
    });
    expect(saved.status).toBe(200);
    const bob = await api.asUser('bob@contoso.com').get(MINE);
    expect(bob.body).toMatchObject({ maxPatLifespanDays: null, globalPatsAllowed: false, patCreation: 'allowed' });
    const dave = await api.asUser(DAVE.email).get(MINE);
    expect(dave.body).toMatchObject({ maxPatLifespanDays: 30, globalPatsAllowed: false, patCreation: 'packagingOnly' });
    expect(JSON.stringify(dave.body)).not.toContain(BOB.id);
  });

  it('is for members only: another organization gets 404', async () => {
    expect((await api.asUser('erin@fabrikam.com').get(MINE)).status).toBe(404);
  });
});
