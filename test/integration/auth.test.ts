import { SignJWT, base64url } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_TENANT_ID, DEMO_USERS } from '../../local/demo-data.js';
import { generateSigningKey, signAccessToken } from '../../local/dev-secrets.js';
import { TEST_AUDIENCE, TEST_ISSUER, startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';

let env: TestEnvironment;
const api = client(() => env);
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.stop();
});

const alice = DEMO_USERS.find((user) => user.email === 'alice@contoso.com')!;
const PATH = '/contoso/_apis/projects?api-version=7.1';

async function expectUnauthorized(headers: Record<string, string>): Promise<void> {
  const response = await env.fetch(PATH, { headers });
  expect(response.status).toBe(401);
  expect(response.headers.get('www-authenticate')).toBe('Bearer');
  const body = (await response.json()) as Record<string, unknown>;
  expect(body).toMatchObject({ code: 'unauthorized', typeKey: 'UnauthorizedRequestException', eventId: 3000 });
}

function aliceClaims(): Record<string, unknown> {
  return { oid: alice.id, preferred_username: alice.email, name: alice.displayName, scp: 'vso.project' };
}

describe('caller authentication', () => {
  it('accepts a valid delegated token', async () => {
    const response = await api.asUser('alice@contoso.com').get(PATH);
    expect(response.status).toBe(200);
  });

  it('refuses a missing header, other schemes and garbage with the same 401', async () => {
    await expectUnauthorized({});
    await expectUnauthorized({ Authorization: `Basic ${Buffer.from(':secret').toString('base64')}` });
    await expectUnauthorized({ Authorization: 'Bearer' });
    await expectUnauthorized({ Authorization: 'Bearer not-a-jwt' });
    await expectUnauthorized({ Authorization: `Bearer ${'a'.repeat(15_000)}` });
    await expectUnauthorized({ Authorization: 'Bearer ünïcödé' });
  });

  it('refuses expired tokens, and tokens not yet valid, beyond the clock skew', async () => {
    const expired = await signAccessToken(env.signingKey, {
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      tenantId: DEMO_TENANT_ID,
      claims: aliceClaims(),
      now: new Date(env.clock.now().getTime() - 2 * 3600_000),
      lifetimeSeconds: 3600,
    });
    await expectUnauthorized({ Authorization: `Bearer ${expired}` });
    const future = await signAccessToken(env.signingKey, {
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      tenantId: DEMO_TENANT_ID,
      claims: aliceClaims(),
      now: new Date(env.clock.now().getTime() + 3600_000),
    });
    await expectUnauthorized({ Authorization: `Bearer ${future}` });
    const slightlySkewed = await signAccessToken(env.signingKey, {
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      tenantId: DEMO_TENANT_ID,
      claims: aliceClaims(),
      now: new Date(env.clock.now().getTime() + 30_000),
    });
    expect((await api.as(slightlySkewed).get(PATH)).status).toBe(200);
  });

  it('stops accepting a token at its expiry although it was verified before', async () => {
    const token = await signAccessToken(env.signingKey, {
      issuer: TEST_ISSUER,
      audience: TEST_AUDIENCE,
      tenantId: DEMO_TENANT_ID,
      claims: aliceClaims(),
      now: env.clock.now(),
      lifetimeSeconds: 120,
    });
    expect((await api.as(token).get(PATH)).status).toBe(200);
    // Verified again at 130 s (within exp + the 60 s skew) and remembered for a minute from then...
    env.clock.advance(130_000);
    expect((await api.as(token).get(PATH)).status).toBe(200);
    // ...but refused from exp + skew (180 s) on, inside that minute.
    env.clock.advance(55_000);
    await expectUnauthorized({ Authorization: `Bearer ${token}` });
  });

  it('refuses another issuer, another audience and another signing key', async () => {
    const base = { tenantId: DEMO_TENANT_ID, claims: aliceClaims(), now: env.clock.now() };
    await expectUnauthorized({
      Authorization: `Bearer ${await signAccessToken(env.signingKey, { ...base, issuer: 'https://evil.test/v2.0', audience: TEST_AUDIENCE })}`,
    });
    await expectUnauthorized({ Authorization: `Bearer ${await signAccessToken(env.signingKey, { ...base, issuer: TEST_ISSUER, audience: 'api://other' })}` });
    const otherKey = await generateSigningKey();
    await expectUnauthorized({ Authorization: `Bearer ${await signAccessToken(otherKey, { ...base, issuer: TEST_ISSUER, audience: TEST_AUDIENCE })}` });
    const sameKidOtherKey = await generateSigningKey();
    sameKidOtherKey.privateJwk.kid = env.signingKey.privateJwk.kid;
    await expectUnauthorized({ Authorization: `Bearer ${await signAccessToken(sameKidOtherKey, { ...base, issuer: TEST_ISSUER, audience: TEST_AUDIENCE })}` });
  });

  it('refuses alg none, HS256 with the public key and a tampered payload', async () => {
    const now = Math.floor(env.clock.now().getTime() / 1000);
    const payload = { ...aliceClaims(), iss: TEST_ISSUER, aud: TEST_AUDIENCE, tid: DEMO_TENANT_ID, iat: now, nbf: now, exp: now + 3600 };
    const unsigned = `${base64url.encode(JSON.stringify({ alg: 'none', typ: 'JWT' }))}.${base64url.encode(JSON.stringify(payload))}.`;
    await expectUnauthorized({ Authorization: `Bearer ${unsigned}` });

    const publicJwk = env.signingKey.publicJwks.keys[0]!;
    const hmac = await new SignJWT(payload)
      .setProtectedHeader({ alg: 'HS256', kid: publicJwk.kid ?? '' })
      .sign(new TextEncoder().encode(JSON.stringify(publicJwk)));
    await expectUnauthorized({ Authorization: `Bearer ${hmac}` });

    const valid = await env.userToken('bob@contoso.com');
    const [header, , signature] = valid.split('.');
    const forged = `${header}.${base64url.encode(JSON.stringify({ ...payload, scp: 'vso.pats vso.pats_manage' }))}.${signature}`;
    await expectUnauthorized({ Authorization: `Bearer ${forged}` });
  });

  it('refuses a delegated token without a valid object id, and an app token without a client id', async () => {
    const base = { issuer: TEST_ISSUER, audience: TEST_AUDIENCE, tenantId: DEMO_TENANT_ID, now: env.clock.now() };
    await expectUnauthorized({
      Authorization: `Bearer ${await signAccessToken(env.signingKey, { ...base, claims: { ...aliceClaims(), oid: 'not-a-guid' } })}`,
    });
    await expectUnauthorized({ Authorization: `Bearer ${await signAccessToken(env.signingKey, { ...base, claims: { roles: ['Gatehouse.Pipelines'] } })}` });
  });

  it('answers 403 with a code when the caller type, scope or app role does not fit', async () => {
    // Every route a user token can call names the delegated scope it needs (projects: vso.project).
    const noScope = await env.userToken('alice@contoso.com', { scopes: ['vso.code'] });
    const refused = await api.as(noScope).get(PATH);
    expect(refused.status).toBe(403);
    expect(refused.body.code).toBe('insufficientScope');
    const higher = await env.userToken('alice@contoso.com', { scopes: ['vso.project_manage'] });
    expect((await api.as(higher).get(PATH)).status).toBe(200);
    const app = await env.appToken('pipelines');
    const create = await api.as(app).post('/_apis/organizations?api-version=7.1', { name: 'robots' });
    expect(create.status).toBe(403);
    expect(create.body.code).toBe('callerTypeNotAllowed');
  });
});

describe('header limits', () => {
  it('answers 431 to request headers beyond the server limit', async () => {
    const response = await env.fetch(PATH, { headers: { Authorization: `Bearer ${'a'.repeat(20_000)}` } });
    expect(response.status).toBe(431);
  });
});
