import { randomBytes, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client, type Reply } from '../helpers/client.js';
import { addGuest } from '../helpers/directory.js';
import { expectSwaggerValid } from '../helpers/swagger.js';
import { createPat as createPatAs, type CreatedPat } from '../helpers/http.js';
import { DEMO_USERS } from '../../local/demo-data.js';
import { subjectDescriptor } from '../../shared/auth/caller.js';
import { type AuditEvent } from '../../shared/audit/events.js';
import { listOutboxRows } from '../../shared/audit/outbox.js';
import { QUEUES, TABLES } from '../../shared/storage/names.js';
import { crc32, findGatehouseTokens, generateToken, isGatehouseToken, parseGatehouseToken } from '../../shared/secrets/format.js';
import { PatRepository, patPartitionOf, patRowKey } from '../../shared/tokens/repository.js';
import { isRevokedByRule } from '../../shared/tokens/admin.js';
import { CONTOSO, FABRIKAM, ALICE, BOB, CAROL, DAVE } from '../helpers/demo.js';
import { deliverAuditQueue } from '../helpers/queues.js';

const PATS = '/contoso/_apis/tokens/pats?api-version=7.1-preview.1';
const PATS72 = '/contoso/_apis/tokens/pats?api-version=7.2-preview.1';
const TOKENS_71 = 'tokens/7.1/tokens.json';
const TOKENS_72 = 'tokens/7.2/tokens.json';
const ADMIN_71 = 'tokenAdmin/7.1/tokenAdmin.json';

let env: TestEnvironment;
const api = client(() => env);
const asAlice = api.asUser('alice@contoso.com');
const asBob = api.asUser('bob@contoso.com');
const asDave = api.asUser('dave@contoso.com');
/** Every secret issued in this file, for the final scan. */
const secrets: string[] = [];
/** Audit messages drained from the queue during the run. */
const auditEvents: AuditEvent[] = [];
const drainedTexts: string[] = [];

const inDays = (days: number) => new Date(env.clock.now().getTime() + days * 86_400_000).toISOString();

async function createPat(
  email: string,
  body: Partial<{ displayName: string; scope: string; validTo: string; allOrgs: boolean }> = {},
  organization = 'contoso',
): Promise<CreatedPat> {
  const pat = await createPatAs(env, { token: await env.userToken(email) }, body, organization);
  secrets.push(pat.token);
  return pat;
}

async function drainAudit(): Promise<AuditEvent[]> {
  const drained = await deliverAuditQueue(env, drainedTexts);
  auditEvents.push(...drained);
  return drained;
}

/**
 * Get, list and token admin list add Gatehouse's documented extra `lastUsed` beside the Azure DevOps
 * fields: it is checked here and removed from a copy, which is then held to the exact Swagger shape.
 */
function withoutExtras(body: any): any {
  const strip = (token: any) => {
    if (!token || typeof token !== 'object') return token;
    const { lastUsed, ...rest } = token;
    expect(lastUsed === null || (typeof lastUsed === 'object' && typeof lastUsed.time === 'string' && Array.isArray(lastUsed.recentIps))).toBe(true);
    return rest;
  };
  const copy = structuredClone(body);
  if (copy.patToken) copy.patToken = strip(copy.patToken);
  if (Array.isArray(copy.patTokens)) copy.patTokens = copy.patTokens.map(strip);
  if (Array.isArray(copy.value)) copy.value = copy.value.map(strip);
  return copy;
}

async function patRowCount(ownerId: string): Promise<number> {
  return (await new PatRepository(env.app).listByOwner(ownerId)).length;
}

beforeAll(async () => {
  env = await startTestEnvironment({ now: '2025-03-01T10:00:00.000Z' });
  // alice also joins fabrikam (another tenant, as a guest), to manage PATs across organizations.
  await addGuest(env, 'erin@fabrikam.com', 'fabrikam', 'alice@contoso.com');
});
afterAll(async () => {
  await env?.stop();
});

describe('token format', () => {
  it('issues gat_ tokens with a base62 CRC32 checksum that scanners can verify offline', async () => {
    const pat = await createPat('alice@contoso.com');
    expect(pat.token).toMatch(/^gat_1_[A-Za-z0-9]{60}$/);
    expect(isGatehouseToken(pat.token)).toBe(true);
    expect(parseGatehouseToken(pat.token)).toEqual({ pepperVersion: '1', authorizationId: pat.authorizationId });
    const last = pat.token.at(-1) === 'a' ? 'b' : 'a';
    expect(isGatehouseToken(pat.token.slice(0, -1) + last)).toBe(false);
    const flipped = pat.token.slice(0, 10) + (pat.token[10] === 'x' ? 'y' : 'x') + pat.token.slice(11);
    expect(isGatehouseToken(flipped)).toBe(false);
    expect(findGatehouseTokens(`config: token=${pat.token}; other=gat_1_abc`)).toEqual([pat.token]);
    expect(crc32('123456789')).toBe(0xcbf43926);
    expect(isGatehouseToken('gat_1_9Qd2mXw0aZ7kLr4TnB8yVc1HfJ5sUe3Gp0Ri6N')).toBe(false);
  });

  it('finds a token by its value with one point read by its id, also after the pepper is rotated', async () => {
    const pat = await createPat('alice@contoso.com');
    const repository = new PatRepository(env.app);
    expect((await repository.findByToken(pat.token))?.record.authorizationId).toBe(pat.authorizationId);
    expect(await repository.findByToken(pat.token.replace(/^gat_1_/, 'gat_9_'))).toBeUndefined();
    // The id is public (listings, audit events): a well-formed token with that id and another secret is nobody's.
    const forged = generateToken('1', pat.authorizationId);
    expect(parseGatehouseToken(forged)?.authorizationId).toBe(pat.authorizationId);
    expect(await repository.findByToken(forged)).toBeUndefined();
    const basic = (token: string) => `Basic ${Buffer.from(`:${token}`).toString('base64')}`;
    expect((await api.withAuthorization(basic(forged)).get('/contoso/_apis/connectionData')).status).toBe(401);
    expect((await api.withAuthorization(basic(pat.token)).get('/contoso/_apis/connectionData')).status).toBe(200);
    const rotated = { ...env.app, config: { ...env.app.config, peppers: [{ version: '2', secret: randomBytes(32) }, ...env.app.config.peppers] } };
    expect((await new PatRepository(rotated).findByToken(pat.token))?.record.authorizationId).toBe(pat.authorizationId);
    const stored = await repository.get(ALICE.id, pat.authorizationId);
    expect(stored?.record.hash).toMatch(/^[0-9a-f]{64}$/);
    expect(JSON.stringify(stored)).not.toContain(pat.token);
  });
});

describe('PAT lifecycle', () => {
  it('creates a PAT: PatTokenResult with the secret, validFrom = now, targetAccounts = the organization', async () => {
    const reply = await asAlice.post(PATS, { displayName: 'build', scope: 'vso.code vso.packaging', validTo: inDays(10), allOrgs: false });
    expect(reply.status).toBe(200);
    secrets.push(reply.body.patToken.token);
    expectSwaggerValid(TOKENS_71, 'PatTokenResult', reply.body, { exact: true });
    expectSwaggerValid(TOKENS_72, 'PatTokenResult', reply.body, { exact: true });
    expect(reply.body.patTokenError).toBe('none');
    expect(reply.body.patToken).toMatchObject({
      displayName: 'build',
      scope: 'vso.code vso.packaging',
      targetAccounts: [CONTOSO],
      validFrom: env.clock.now().toISOString(),
      validTo: inDays(10),
    });
  });

  it('accepts api-version 7.1 and 7.2-preview.1, refuses others, and routes case-insensitively', async () => {
    for (const version of ['7.1', '7.2-preview.1']) {
      const reply = await asAlice.get(`/contoso/_apis/Tokens/Pats?api-version=${version}`);
      expect(reply.status).toBe(200);
    }
    const bad = await asAlice.get('/contoso/_apis/tokens/pats?api-version=6.0');
    expect(bad.status).toBe(400);
    expect(bad.body.code).toBe('unsupportedApiVersion');
  });

  it('gets a PAT without its secret', async () => {
    const pat = await createPat('alice@contoso.com', { displayName: 'get-me', scope: 'app_token' });
    const reply = await api.asUser('alice@contoso.com', { scopes: ['vso.pats'] }).get(`${PATS}&authorizationId=${pat.authorizationId}`);
    expect(reply.status).toBe(200);
    expect(reply.body.patToken.lastUsed).toBeNull();
    expectSwaggerValid(TOKENS_71, 'PatTokenResult', withoutExtras(reply.body), { exact: true });
    expect(reply.body.patToken).toMatchObject({ authorizationId: pat.authorizationId, displayName: 'get-me', scope: 'app_token', token: null });
  });

  it('updates displayName, scope, validTo and allOrgs', async () => {
    const pat = await createPat('alice@contoso.com', { displayName: 'before' });
    const reply = await asAlice.put(PATS, {
      authorizationId: pat.authorizationId,
      displayName: 'after',
      scope: 'vso.work_write vso.code',
      validTo: inDays(60),
      allOrgs: true,
    });
    expect(reply.status).toBe(200);
    expectSwaggerValid(TOKENS_71, 'PatTokenResult', reply.body, { exact: true });
    expect(reply.body.patToken).toMatchObject({
      displayName: 'after',
      scope: 'vso.work_write vso.code',
      validTo: inDays(60),
      targetAccounts: null,
      token: null,
      validFrom: pat.validFrom,
    });
    const back = await asAlice.put(PATS, { authorizationId: pat.authorizationId, allOrgs: false });
    expect(back.body.patToken.targetAccounts).toEqual([CONTOSO]);
    const onlyName = await asAlice.put(PATS, { authorizationId: pat.authorizationId, displayName: 'renamed' });
    expect(onlyName.body.patToken).toMatchObject({ displayName: 'renamed', scope: 'vso.work_write vso.code', validTo: inDays(60) });
  });

  it('revokes idempotently (204), keeps revoked PATs listable, and refuses to update them (409)', async () => {
    const pat = await createPat('alice@contoso.com', { displayName: 'to-revoke' });
    const first = await asAlice.delete(`${PATS}&authorizationId=${pat.authorizationId}`);
    expect(first.status).toBe(204);
    expect(first.body).toBeUndefined();
    const second = await asAlice.delete(`${PATS}&authorizationId=${pat.authorizationId}`);
    expect(second.status).toBe(204);
    const revoked = await asAlice.get(`${PATS}&displayFilterOption=revoked`);
    expect(revoked.body.patTokens.map((t: { authorizationId: string }) => t.authorizationId)).toContain(pat.authorizationId);
    const active = await asAlice.get(PATS);
    expect(active.body.patTokens.map((t: { authorizationId: string }) => t.authorizationId)).not.toContain(pat.authorizationId);
    const update = await asAlice.put(PATS, { authorizationId: pat.authorizationId, validTo: inDays(90) });
    expect(update.status).toBe(409);
    expect(update.body).toEqual({ patToken: null, patTokenError: 'failedToUpdateAccessToken' });
    expectSwaggerValid(TOKENS_71, 'PatTokenResult', update.body, { exact: true });
    const update72 = await asAlice.put(PATS72, { authorizationId: pat.authorizationId, validTo: inDays(90) });
    expect(update72.body).toEqual({ patToken: null, patTokenError: 'failedToUpdateAccessToken', patTokenErrorMessage: expect.any(String) });
    expectSwaggerValid(TOKENS_72, 'PatTokenResult', update72.body, { exact: true });
    const stored = await new PatRepository(env.app).get(ALICE.id, pat.authorizationId);
    expect(stored?.record.revokedAt).toBeTruthy();
  });

  it('derives expiry on read: expired PATs are listed as expired and cannot be extended', async () => {
    const pat = await createPat('dave@contoso.com', { displayName: 'short', validTo: inDays(1) });
    env.clock.advance(2 * 86_400_000);
    const expired = await asDave.get(`${PATS}&displayFilterOption=expired`);
    expect(expired.body.patTokens.map((t: { authorizationId: string }) => t.authorizationId)).toEqual([pat.authorizationId]);
    const active = await asDave.get(PATS);
    expect(active.body.patTokens).toEqual([]);
    const update = await asDave.put(PATS72, { authorizationId: pat.authorizationId, validTo: inDays(10) });
    expect(update.status).toBe(400);
    expect(update.body.patTokenError).toBe('expiredPatCannotBeExtended');
    expectSwaggerValid(TOKENS_72, 'PatTokenResult', update.body, { exact: true });
    // 7.1 has no such value: the closest one, with the exact code in a header.
    const update71 = await asDave.put(PATS, { authorizationId: pat.authorizationId, validTo: inDays(10) });
    expect(update71.status).toBe(400);
    expect(update71.body).toEqual({ patToken: null, patTokenError: 'failedToUpdateAccessToken' });
    expect(update71.headers.get('x-gatehouse-error')).toBe('expiredPatCannotBeExtended');
    expectSwaggerValid(TOKENS_71, 'PatTokenResult', update71.body, { exact: true });
    const all = await asDave.get(`${PATS}&displayFilterOption=all`);
    expect(all.body.patTokens).toHaveLength(1);
    const revoke = await asDave.delete(`${PATS}&authorizationId=${pat.authorizationId}`);
    expect(revoke.status).toBe(204);
  });

  it('maintains the expiry index on create, update and revoke', async () => {
    const pat = await createPat('alice@contoso.com', { validTo: '2025-06-01T12:30:00.000Z' });
    const expiry = env.app.storage.table(TABLES.patExpiry);
    const key = (validTo: string) => ({
      partitionKey: validTo.slice(0, 13).replace(/[-T]/g, ''),
      rowKey: `${String(Date.parse(validTo)).padStart(13, '0')}_${pat.authorizationId}`,
    });
    const first = key(pat.validTo);
    expect(first.partitionKey).toBe('2025060112');
    await drainAudit();
    await expect(expiry.getEntity(first.partitionKey, first.rowKey)).resolves.toBeTruthy();
    const updated = await asAlice.put(PATS, { authorizationId: pat.authorizationId, validTo: '2025-07-01T08:00:00.000Z' });
    expect(updated.status).toBe(200);
    await drainAudit();
    const second = key(updated.body.patToken.validTo);
    await expect(expiry.getEntity(second.partitionKey, second.rowKey)).resolves.toBeTruthy();
    await expect(expiry.getEntity(first.partitionKey, first.rowKey)).rejects.toMatchObject({ statusCode: 404 });
    await asAlice.delete(`${PATS}&authorizationId=${pat.authorizationId}`);
    await drainAudit();
    await expect(expiry.getEntity(second.partitionKey, second.rowKey)).rejects.toMatchObject({ statusCode: 404 });
  });

  it('manages a PAT only under an organization it targets; global PATs under any of the owner’s organizations', async () => {
    const local = await createPat('alice@contoso.com', { displayName: 'contoso-only' });
    const global = await createPat('alice@contoso.com', { displayName: 'global', allOrgs: true });
    expect(global.targetAccounts).toBeNull();
    const elsewhere = await asAlice.get(`/fabrikam/_apis/tokens/pats?api-version=7.1-preview.1&authorizationId=${local.authorizationId}`);
    expect(elsewhere.status).toBe(403);
    expect(elsewhere.body.patTokenError).toBe('accessDenied');
    const globalElsewhere = await asAlice.get(`/fabrikam/_apis/tokens/pats?api-version=7.1-preview.1&authorizationId=${global.authorizationId}`);
    expect(globalElsewhere.status).toBe(200);
    const fabrikamList = await asAlice.get('/fabrikam/_apis/tokens/pats?api-version=7.1-preview.1&displayFilterOption=all');
    const ids = fabrikamList.body.patTokens.map((t: { authorizationId: string }) => t.authorizationId);
    expect(ids).toContain(global.authorizationId);
    expect(ids).not.toContain(local.authorizationId);
    const fab = await createPat('alice@contoso.com', { displayName: 'fabrikam' }, 'fabrikam');
    expect(fab.targetAccounts).toEqual([FABRIKAM]);
  });

  it('users see only their own PATs', async () => {
    const bobs = await createPat('bob@contoso.com', { displayName: 'bob-own' });
    const aliceReply = await asAlice.get(`${PATS}&authorizationId=${bobs.authorizationId}`);
    expect(aliceReply.status).toBe(404);
    expect(aliceReply.body.patTokenError).toBe('authorizationNotFound');
    const revoke = await asAlice.delete(`${PATS}&authorizationId=${bobs.authorizationId}`);
    expect(revoke.status).toBe(404);
    const update = await asAlice.put(PATS, { authorizationId: bobs.authorizationId, displayName: 'stolen' });
    expect(update.status).toBe(404);
    const list = await asAlice.get(`${PATS}&displayFilterOption=all`);
    expect(list.body.patTokens.map((t: { authorizationId: string }) => t.authorizationId)).not.toContain(bobs.authorizationId);
  });
});

describe('listing', () => {
  const email = 'carol@contoso.com';
  const names = ['delta', 'alpha', 'echo', 'charlie', 'bravo'];

  beforeAll(async () => {
    for (const [i, name] of names.entries()) await createPat(email, { displayName: name, validTo: inDays(10 + i) });
  });

  it('pages with opaque continuation tokens, validated against the Swagger', async () => {
    const first = await api.asUser(email).get(`${PATS}&$top=2`);
    expect(first.status).toBe(200);
    expectSwaggerValid(TOKENS_71, 'PagedPatTokens', withoutExtras(first.body), { exact: true });
    expect(first.body.patTokens.map((t: { displayName: string }) => t.displayName)).toEqual(['alpha', 'bravo']);
    expect(first.body.continuationToken).toMatch(/^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+$/);
    const second = await api.asUser(email).get(`${PATS}&$top=2&continuationToken=${first.body.continuationToken}`);
    expect(second.body.patTokens.map((t: { displayName: string }) => t.displayName)).toEqual(['charlie', 'delta']);
    const third = await api.asUser(email).get(`${PATS}&$top=2&continuationToken=${second.body.continuationToken}`);
    expect(third.body.patTokens.map((t: { displayName: string }) => t.displayName)).toEqual(['echo']);
    expect(third.body.continuationToken).toBe('');
  });

  it('keeps pages stable while PATs are added', async () => {
    const first = await api.asUser(email).get(`${PATS}&$top=2`);
    await createPat(email, { displayName: 'aardvark' });
    await createPat(email, { displayName: 'zulu' });
    const second = await api.asUser(email).get(`${PATS}&$top=10&continuationToken=${first.body.continuationToken}`);
    expect(second.body.patTokens.map((t: { displayName: string }) => t.displayName)).toEqual(['charlie', 'delta', 'echo', 'zulu']);
  });

  it('sorts by displayDate and status, descending too', async () => {
    const byDate = await api.asUser(email).get(`${PATS}&sortByOption=displayDate&isSortAscending=false&$top=3`);
    const dates = byDate.body.patTokens.map((t: { validTo: string }) => Date.parse(t.validTo));
    expect(dates).toEqual([...dates].sort((a: number, b: number) => b - a));
    const desc = await api.asUser(email).get(`${PATS}&sortByOption=displayName&isSortAscending=false&$top=2`);
    expect(desc.body.patTokens.map((t: { displayName: string }) => t.displayName)).toEqual(['zulu', 'echo']);
    const next = await api.asUser(email).get(`${PATS}&sortByOption=displayName&isSortAscending=false&$top=2&continuationToken=${desc.body.continuationToken}`);
    expect(next.body.patTokens.map((t: { displayName: string }) => t.displayName)).toEqual(['delta', 'charlie']);
    const list = await api.asUser(email).get(`${PATS}&displayFilterOption=all`);
    const zulu = list.body.patTokens.find((t: { displayName: string }) => t.displayName === 'zulu');
    await api.asUser(email).delete(`${PATS}&authorizationId=${zulu.authorizationId}`);
    const byStatus = await api.asUser(email).get(`${PATS}&displayFilterOption=all&sortByOption=status`);
    expect(byStatus.body.patTokens.at(-1).displayName).toBe('zulu');
  });

  it('rejects tampered continuation tokens and ones reused with other filters (400)', async () => {
    const first = await api.asUser(email).get(`${PATS}&$top=2`);
    const token: string = first.body.continuationToken;
    const [body, mac] = token.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    payload.k[0] = 'a';
    const forged = `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${mac}`;
    for (const bad of [forged, `${token}x`, 'garbage', `${body}.`]) {
      const reply = await api.asUser(email).get(`${PATS}&$top=2&continuationToken=${encodeURIComponent(bad)}`);
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe('invalidContinuationToken');
    }
    for (const other of ['&displayFilterOption=all', '&sortByOption=status', '&isSortAscending=false']) {
      const reply = await api.asUser(email).get(`${PATS}&$top=2&continuationToken=${token}${other}`);
      expect(reply.status).toBe(400);
      expect(reply.body.code).toBe('invalidContinuationToken');
    }
    const otherUser = await asBob.get(`${PATS}&$top=2&continuationToken=${token}`);
    expect(otherUser.status).toBe(400);
  });

  it('validates list parameters', async () => {
    for (const query of ['$top=0', '$top=101', '$top=abc', '$top=1.5', 'displayFilterOption=bogus', 'sortByOption=size', 'isSortAscending=maybe']) {
      const reply = await api.asUser(email).get(`${PATS}&${query}`);
      expect(reply.status, query).toBe(400);
      expect(reply.body.code).toBe('invalidQueryParameter');
    }
    const dup = await api.asUser(email).get(`${PATS}&$top=1&$top=2`);
    expect(dup.body.code).toBe('duplicateQueryParameter');
    const mixedCase = await api.asUser(email).get(`${PATS}&displayFilterOption=ALL&sortByOption=DisplayName&isSortAscending=True`);
    expect(mixedCase.status).toBe(200);
  });
});

describe('bad input and access', () => {
  const bad = async (body: unknown, code: string, status = 400) => {
    const before = await patRowCount(ALICE.id);
    const reply = await asAlice.post(PATS72, body);
    expect(reply.status, JSON.stringify(body)).toBe(status);
    expect(reply.body, JSON.stringify(body)).toEqual({ patToken: null, patTokenError: code, patTokenErrorMessage: expect.any(String) });
    expectSwaggerValid(TOKENS_72, 'PatTokenResult', reply.body, { exact: true });
    const reply71 = await asAlice.post(PATS, body);
    expect(reply71.status).toBe(status);
    expect(reply71.body).toEqual({ patToken: null, patTokenError: code });
    expectSwaggerValid(TOKENS_71, 'PatTokenResult', reply71.body, { exact: true });
    expect(await patRowCount(ALICE.id)).toBe(before);
  };
  const valid = () => ({ displayName: 'ok', scope: 'vso.code', validTo: inDays(5), allOrgs: false });

  it('reports create errors as SessionTokenError values in the PatTokenResult envelope', async () => {
    const { displayName: _omit, ...noName } = valid();
    await bad(noName, 'displayNameRequired');
    await bad({ ...valid(), displayName: '' }, 'displayNameRequired');
    await bad({ ...valid(), displayName: '   ' }, 'displayNameRequired');
    await bad({ ...valid(), displayName: 'x'.repeat(257) }, 'invalidDisplayName');
    await bad({ ...valid(), displayName: 'bell\u0007' }, 'invalidDisplayName');
    await bad({ ...valid(), displayName: 42 }, 'displayNameRequired');
    await bad({ ...valid(), validTo: 'tomorrow' }, 'invalidValidTo');
    await bad({ ...valid(), validTo: '2025-02-30T00:00:00Z' }, 'invalidValidTo');
    await bad({ ...valid(), validTo: '2020-01-01T00:00:00Z' }, 'invalidValidTo');
    await bad({ ...valid(), validTo: inDays(4000) }, 'invalidValidTo');
    const { validTo: _v, ...noValidTo } = valid();
    await bad(noValidTo, 'invalidValidTo');
    await bad({ ...valid(), scope: 'vso.nonsense' }, 'invalidScope');
    await bad({ ...valid(), scope: 'vso.code vso.code' }, 'invalidScope');
    await bad({ ...valid(), scope: '' }, 'invalidScope');
    await bad({ ...valid(), scope: '   ' }, 'invalidScope');
    await bad({ ...valid(), scope: 'vso.pats_manage' }, 'invalidScope');
    await bad({ ...valid(), scope: 'app_token vso.code' }, 'invalidScope');
    await bad({ ...valid(), allOrgs: 'yes' }, 'invalidTargetAccounts');
  });

  it('keeps the standard error body for malformed requests and auth failures', async () => {
    const unknownField = await asAlice.post(PATS, { ...valid(), targetAccounts: [] });
    expect(unknownField.status).toBe(400);
    expect(unknownField.body.code).toBe('invalidRequestBody');
    const notJson = await asAlice.post(PATS, '{nope');
    expect(notJson.body.code).toBe('invalidJson');
    const anonymous = await api.get(PATS);
    expect(anonymous.status).toBe(401);
    expect(anonymous.body.code).toBe('unauthorized');
  });

  it('validates authorizationId on get, update and revoke', async () => {
    for (const [method, path, body] of [
      ['GET', `${PATS}&authorizationId=not-a-guid`, undefined],
      ['DELETE', `${PATS}&authorizationId=1234`, undefined],
      ['DELETE', PATS, undefined],
      ['PUT', PATS, { authorizationId: 'zzz', displayName: 'x' }],
      ['PUT', PATS, { displayName: 'x' }],
    ] as const) {
      const reply = await asAlice.request(method, path, body === undefined ? {} : { body });
      expect(reply.status, `${method} ${path}`).toBe(400);
      expect(reply.body.patTokenError).toBe('invalidAuthorizationId');
    }
    const missing = randomUUID();
    for (const [method, path, body] of [
      ['GET', `${PATS}&authorizationId=${missing}`, undefined],
      ['DELETE', `${PATS}&authorizationId=${missing}`, undefined],
      ['PUT', PATS, { authorizationId: missing, displayName: 'x' }],
    ] as const) {
      const reply = await asAlice.request(method, path, body === undefined ? {} : { body });
      expect(reply.status).toBe(404);
      expect(reply.body.patTokenError).toBe('authorizationNotFound');
    }
  });

  it('validates update fields', async () => {
    const pat = await createPat('alice@contoso.com');
    for (const [body, code] of [
      [{ displayName: '' }, 'displayNameRequired'],
      [{ scope: 'vso.code nope' }, 'invalidScope'],
      [{ validTo: 'soon' }, 'invalidValidTo'],
      [{ validTo: '2020-01-01T00:00:00Z' }, 'invalidValidTo'],
      [{ allOrgs: 1 }, 'invalidTargetAccounts'],
    ] as const) {
      const reply = await asAlice.put(PATS, { authorizationId: pat.authorizationId, ...body });
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.patTokenError).toBe(code);
    }
    const after = await new PatRepository(env.app).get(ALICE.id, pat.authorizationId);
    expect(after?.record.displayName).toBe((await asAlice.get(`${PATS}&authorizationId=${pat.authorizationId}`)).body.patToken.displayName);
    expect(after?.record.scope).toBe('vso.code');
  });

  it('answers unknown organizations and non-members with 404, writing nothing', async () => {
    const before = await patRowCount(ALICE.id);
    for (const org of ['nowhere', 'bad..name']) {
      const reply = await asAlice.post(`/${org}/_apis/tokens/pats?api-version=7.1-preview.1`, valid());
      expect(reply.status).toBe(404);
      expect(reply.body.code).toBe('organizationNotFound');
    }
    const erin = await api.asUser('erin@fabrikam.com').post(PATS, valid());
    expect(erin.status).toBe(404);
    expect(await patRowCount(ALICE.id)).toBe(before);
  });

  it('admits only users with vso.pats (read) or vso.pats_manage (write)', async () => {
    const app = await api.as(await env.appToken('pipelines')).get(PATS);
    expect(app.status).toBe(403);
    expect(app.body.code).toBe('callerTypeNotAllowed');
    const noScope = await api.asUser('alice@contoso.com', { scopes: ['vso.code'] }).get(PATS);
    expect(noScope.status).toBe(403);
    expect(noScope.body.code).toBe('insufficientScope');
    const readOnly = await api.asUser('alice@contoso.com', { scopes: ['vso.pats'] }).get(PATS);
    expect(readOnly.status).toBe(200);
    const createReadOnly = await api.asUser('alice@contoso.com', { scopes: ['vso.pats'] }).post(PATS, valid());
    expect(createReadOnly.status).toBe(403);
    expect(createReadOnly.body.code).toBe('insufficientScope');
    const deleteReadOnly = await api.asUser('alice@contoso.com', { scopes: ['vso.pats'] }).delete(`${PATS}&authorizationId=${randomUUID()}`);
    expect(deleteReadOnly.status).toBe(403);
  });
});

describe('organization policies', () => {
  const POLICIES = '/contoso/_apis/tokens/policies?api-version=7.1';
  const put = (body: unknown, headers: Record<string, string> = {}) => asAlice.put(POLICIES, body, { headers });
  const reset = () =>
    put({
      maxPatLifespan: { enabled: false },
      restrictFullScopePats: { enabled: false },
      restrictGlobalPats: { enabled: false },
      restrictPatCreation: { enabled: false },
      leakedPatAutoRevocation: { enabled: true },
    });

  it('are all off by default except leaked-token auto-revocation, and only administrators manage them', async () => {
    const reply = await asAlice.get(POLICIES);
    expect(reply.status).toBe(200);
    expect(reply.body).toMatchObject({
      maxPatLifespan: { enabled: false, maxDays: 90, exemptUsers: [] },
      restrictFullScopePats: { enabled: false, exemptUsers: [] },
      restrictGlobalPats: { enabled: false, exemptUsers: [] },
      restrictPatCreation: { enabled: false, allowPackagingScopes: false, exemptUsers: [] },
      leakedPatAutoRevocation: { enabled: true, exemptUsers: [] },
      revision: 0,
    });
    expect(reply.headers.get('etag')).toBe('"0"');
    for (const [method, path] of [
      ['GET', POLICIES],
      ['PUT', POLICIES],
      ['POST', '/contoso/_apis/tokens/policies/preview?api-version=7.1'],
    ] as const) {
      const bob = await asBob.request(method, path, method === 'GET' ? {} : { body: {} });
      expect(bob.status).toBe(403);
      expect(bob.body.code).toBe('accessDenied');
    }
  });

  it('validates policy documents', async () => {
    for (const body of [
      { maxPatLifespan: { enabled: true, maxDays: 0 } },
      { maxPatLifespan: { enabled: 'yes' } },
      { restrictGlobalPats: { enabled: true, exemptUsers: ['not-a-guid'] } },
      { unknownPolicy: { enabled: true } },
      { restrictFullScopePats: { enabled: true, extra: 1 } },
    ]) {
      const reply = await put(body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
      expect(reply.body.code).toBe('invalidRequestBody');
    }
    expect((await asAlice.get(POLICIES)).body.revision).toBe(0);
  });

  it('clamps validTo on create to now + max and on update to validFrom + max; exempt users are not clamped', async () => {
    const saved = await put({ maxPatLifespan: { enabled: true, maxDays: 30, exemptUsers: [DAVE.id] } });
    expect(saved.status).toBe(200);
    expect(saved.body.maxPatLifespan).toEqual({ enabled: true, maxDays: 30, exemptUsers: [DAVE.id] });
    expect(saved.body.revision).toBe(1);
    const pat = await createPat('bob@contoso.com', { validTo: inDays(365) });
    expect(pat.validTo).toBe(inDays(30));
    env.clock.advance(10 * 86_400_000);
    const renewed = await asBob.put(PATS, { authorizationId: pat.authorizationId, validTo: inDays(365) });
    expect(renewed.status).toBe(200);
    expect(renewed.body.patToken.validTo).toBe(new Date(Date.parse(pat.validFrom) + 30 * 86_400_000).toISOString());
    const shorter = await asBob.put(PATS, { authorizationId: pat.authorizationId, validTo: inDays(5) });
    expect(shorter.body.patToken.validTo).toBe(inDays(5));
    const exempt = await createPat('dave@contoso.com', { validTo: inDays(365) });
    expect(exempt.validTo).toBe(inDays(365));
    const events = await drainAudit();
    const created = events.find((event) => event.actionId === 'Token.PatCreateEvent' && event.data.AuthorizationId === pat.authorizationId);
    expect(created?.data.RequestedValidTo).toBeDefined();
    const policyEvent = events.find((event) => event.actionId === 'Token.PolicyUpdateEvent');
    expect(policyEvent).toMatchObject({ area: 'Token', category: 'modify', actor: { id: ALICE.id }, organizationId: CONTOSO });
    expect(policyEvent?.data.ChangedPolicies).toEqual(['maxPatLifespan']);
    await reset();
  });

  it('refuses full-scope and global PATs under the restrictions (create and update), except for exempt users', async () => {
    await put({ restrictFullScopePats: { enabled: true }, restrictGlobalPats: { enabled: true, exemptUsers: [DAVE.id] } });
    const before = await patRowCount(BOB.id);
    const full = await asBob.post(PATS, { displayName: 'x', scope: 'app_token', validTo: inDays(3) });
    expect(full.status).toBe(403);
    expect(full.body.patTokenError).toBe('fullScopePatPolicyViolation');
    expectSwaggerValid(TOKENS_71, 'PatTokenResult', full.body, { exact: true });
    const global = await asBob.post(PATS, { displayName: 'x', scope: 'vso.code', validTo: inDays(3), allOrgs: true });
    expect(global.status).toBe(403);
    expect(global.body.patTokenError).toBe('globalPatPolicyViolation');
    expect(await patRowCount(BOB.id)).toBe(before);
    const scoped = await createPat('bob@contoso.com');
    const toGlobal = await asBob.put(PATS, { authorizationId: scoped.authorizationId, allOrgs: true });
    expect(toGlobal.body.patTokenError).toBe('globalPatPolicyViolation');
    const toFull = await asBob.put(PATS, { authorizationId: scoped.authorizationId, scope: 'app_token' });
    expect(toFull.body.patTokenError).toBe('fullScopePatPolicyViolation');
    const daveGlobal = await createPat('dave@contoso.com', { allOrgs: true });
    expect(daveGlobal.targetAccounts).toBeNull();
    await reset();
  });

  it('restricts PAT creation to allow-listed users, optionally allowing packaging-only PATs', async () => {
    await put({ restrictPatCreation: { enabled: true, exemptUsers: [DAVE.id] } });
    const refused = await asBob.post(PATS72, { displayName: 'x', scope: 'vso.packaging', validTo: inDays(3) });
    expect(refused.status).toBe(403);
    expect(refused.body.patTokenError).toBe('disablePatCreationPolicyViolation');
    expectSwaggerValid(TOKENS_72, 'PatTokenResult', refused.body, { exact: true });
    const refused71 = await asBob.post(PATS, { displayName: 'x', scope: 'vso.packaging', validTo: inDays(3) });
    expect(refused71.body).toEqual({ patToken: null, patTokenError: 'accessDenied' });
    expect(refused71.headers.get('x-gatehouse-error')).toBe('disablePatCreationPolicyViolation');
    await createPat('dave@contoso.com');
    await put({ restrictPatCreation: { enabled: true, allowPackagingScopes: true } });
    await createPat('bob@contoso.com', { scope: 'vso.packaging_write' });
    const code = await asBob.post(PATS72, { displayName: 'x', scope: 'vso.packaging vso.code', validTo: inDays(3) });
    expect(code.body.patTokenError).toBe('disablePatCreationPolicyViolation');
    await reset();
  });

  it('guards policy updates with If-Match', async () => {
    const current = await asAlice.get(POLICIES);
    const stale = await put({ restrictGlobalPats: { enabled: true } }, { 'If-Match': '"0"' });
    expect(stale.status).toBe(412);
    expect(stale.body.code).toBe('preconditionFailed');
    const fresh = await put({ restrictGlobalPats: { enabled: false } }, { 'If-Match': current.headers.get('etag')! });
    expect(fresh.status).toBe(200);
    expect(fresh.headers.get('etag')).toBe(`"${(current.body.revision as number) + 1}"`);
  });

  it('previews which existing PATs would break a proposed policy, and their owners, without saving it', async () => {
    const fullAccess = await createPat('dave@contoso.com', { displayName: 'dave-full', scope: 'app_token' });
    const longLived = await createPat('bob@contoso.com', { displayName: 'bob-long', validTo: inDays(200) });
    const revision = (await asAlice.get(POLICIES)).body.revision;
    const reply = await asAlice.post('/contoso/_apis/tokens/policies/preview?api-version=7.1', {
      restrictFullScopePats: { enabled: true },
      maxPatLifespan: { enabled: true, maxDays: 100, exemptUsers: [ALICE.id] },
    });
    expect(reply.status).toBe(200);
    expect(reply.body.policies.restrictFullScopePats.enabled).toBe(true);
    const byId = new Map<string, unknown>(reply.body.value.map((v: { authorizationId: string }) => [v.authorizationId, v]));
    expect(byId.get(fullAccess.authorizationId)).toMatchObject({
      violations: ['restrictFullScopePats'],
      owner: { id: DAVE.id, displayName: DAVE.displayName, principalName: DAVE.email, descriptor: subjectDescriptor('user', DAVE.id) },
    });
    expect(byId.get(longLived.authorizationId)).toMatchObject({ violations: ['maxPatLifespan'], owner: { id: BOB.id } });
    expect(
      reply.body.value.every((v: { owner: { id: string }; violations: string[] }) => v.owner.id !== ALICE.id || !v.violations.includes('maxPatLifespan')),
    ).toBe(true);
    expect(reply.body.count).toBe(reply.body.value.length);
    expect((await asAlice.get(POLICIES)).body.revision).toBe(revision);
  });
});

describe('token admin', () => {
  const ADMIN = '/contoso/_apis/tokenadmin';
  const bobDescriptor = subjectDescriptor('user', BOB.id);

  it('lists a member’s PATs with uuid continuation tokens (TokenAdminPagedSessionTokens)', async () => {
    await createPat('bob@contoso.com', { displayName: 'admin-a' });
    await createPat('bob@contoso.com', { displayName: 'admin-b' });
    const all = await asAlice.get(`${ADMIN}/personalaccesstokens/${bobDescriptor}?api-version=7.1&pageSize=100`);
    expect(all.status).toBe(200);
    expectSwaggerValid(ADMIN_71, 'TokenAdminPagedSessionTokens', withoutExtras(all.body), { exact: true });
    expect(all.body.continuationToken).toBeNull();
    expect(all.body.value.every((t: { userId: string; isPublic: boolean; token: null }) => t.userId === BOB.id && !t.isPublic && t.token === null)).toBe(true);
    const total = all.body.value.length;
    expect(total).toBeGreaterThanOrEqual(2);
    const seen: string[] = [];
    let continuation: string | null = null;
    do {
      const reply: Reply = await asAlice.get(
        `${ADMIN}/personalaccesstokens/${bobDescriptor}?api-version=7.1&pageSize=1${continuation ? `&continuationToken=${continuation}` : ''}`,
      );
      expect(reply.status).toBe(200);
      expectSwaggerValid(ADMIN_71, 'TokenAdminPagedSessionTokens', withoutExtras(reply.body), { exact: true });
      seen.push(...reply.body.value.map((t: { authorizationId: string }) => t.authorizationId));
      continuation = reply.body.continuationToken;
    } while (continuation);
    expect(seen).toEqual(all.body.value.map((t: { authorizationId: string }) => t.authorizationId));
    const ssh = await asAlice.get(`${ADMIN}/personalaccesstokens/${bobDescriptor}?api-version=7.1&isPublic=true`);
    expect(ssh.body).toEqual({ value: [], continuationToken: null });
  });

  it('rejects bad descriptors, page sizes, continuation tokens and non-administrators', async () => {
    const first = await asAlice.get(`${ADMIN}/personalaccesstokens/${bobDescriptor}?api-version=7.1&pageSize=1`);
    const cursor = first.body.continuationToken as string;
    const cases: [string, number, string][] = [
      [`${ADMIN}/personalaccesstokens/not-a-descriptor?api-version=7.1`, 400, 'invalidSubjectDescriptor'],
      [`${ADMIN}/personalaccesstokens/aad.${Buffer.from('nope').toString('base64url')}?api-version=7.1`, 400, 'invalidSubjectDescriptor'],
      [`${ADMIN}/personalaccesstokens/${subjectDescriptor('user', DEMO_USERS[4]!.id)}?api-version=7.1`, 404, 'identityNotFound'],
      [`${ADMIN}/personalaccesstokens/${bobDescriptor}?api-version=7.1&pageSize=0`, 400, 'invalidQueryParameter'],
      [`${ADMIN}/personalaccesstokens/${bobDescriptor}?api-version=7.1&continuationToken=xyz`, 400, 'invalidQueryParameter'],
      [`${ADMIN}/personalaccesstokens/${bobDescriptor}?api-version=7.1&continuationToken=${randomUUID()}`, 400, 'invalidContinuationToken'],
      [`${ADMIN}/personalaccesstokens/${subjectDescriptor('user', DAVE.id)}?api-version=7.1&continuationToken=${cursor}`, 400, 'invalidContinuationToken'],
      [`${ADMIN}/personalaccesstokens/${bobDescriptor}?api-version=7.1&isPublic=true&continuationToken=${cursor}`, 400, 'invalidContinuationToken'],
    ];
    for (const [path, status, code] of cases) {
      const reply = await asAlice.get(path);
      expect(reply.status, path).toBe(status);
      expect(reply.body.code, path).toBe(code);
    }
    const bob = await asBob.get(`${ADMIN}/personalaccesstokens/${bobDescriptor}?api-version=7.1`);
    expect(bob.status).toBe(403);
    const noScope = await api.asUser('alice@contoso.com', { scopes: ['vso.pats'] }).get(`${ADMIN}/personalaccesstokens/${bobDescriptor}?api-version=7.1`);
    expect(noScope.body.code).toBe('insufficientScope');
  });

  it('revokes authorizations (204) with Token.PatRevokeEvent by the administrator; unknown ids revoke nothing', async () => {
    const a = await createPat('bob@contoso.com', { displayName: 'revoke-a' });
    const b = await createPat('bob@contoso.com', { displayName: 'revoke-b' });
    const unknown = await asAlice.post(`${ADMIN}/revocations?api-version=7.1`, [{ authorizationId: b.authorizationId }, { authorizationId: randomUUID() }]);
    expect(unknown.status).toBe(404);
    expect(unknown.body.code).toBe('authorizationNotFound');
    expect((await new PatRepository(env.app).get(BOB.id, b.authorizationId))?.record.revokedAt).toBeNull();
    for (const body of [[], [{}], [{ authorizationId: 'nope' }], {}]) {
      const reply = await asAlice.post(`${ADMIN}/revocations?api-version=7.1`, body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
    }
    const fabrikamPat = await createPat('alice@contoso.com', {}, 'fabrikam');
    const foreign = await asAlice.post(`${ADMIN}/revocations?api-version=7.1`, [{ authorizationId: fabrikamPat.authorizationId }]);
    expect(foreign.status).toBe(404);
    await drainAudit();
    const reply = await asAlice.post(`${ADMIN}/revocations?api-version=7.1`, [{ authorizationId: a.authorizationId }, { authorizationId: b.authorizationId }], {
      headers: { 'x-forwarded-for': '203.0.113.7:50123', 'user-agent': 'admin-script/1.0' },
    });
    expect(reply.status).toBe(204);
    const list = await asBob.get(`${PATS}&displayFilterOption=revoked`);
    const revokedIds = list.body.patTokens.map((t: { authorizationId: string }) => t.authorizationId);
    expect(revokedIds).toEqual(expect.arrayContaining([a.authorizationId, b.authorizationId]));
    const events = (await drainAudit()).filter((event) => event.actionId === 'Token.PatRevokeEvent');
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      actor: { kind: 'user', id: ALICE.id },
      ipAddress: '203.0.113.7',
      userAgent: 'admin-script/1.0',
      data: { OwnerId: BOB.id, OwnerName: BOB.displayName, RevocationKind: 'admin' },
    });
    expect(events[0]?.correlationId).toBe(events[1]?.correlationId);
    const again = await asAlice.post(`${ADMIN}/revocations?api-version=7.1`, [{ authorizationId: a.authorizationId }]);
    expect(again.status).toBe(204);
    expect((await drainAudit()).filter((event) => event.actionId === 'Token.PatRevokeEvent')).toHaveLength(0);
    const ssh = await asAlice.post(`${ADMIN}/revocations?api-version=7.1&isPublic=true`, [{ authorizationId: a.authorizationId }]);
    expect(ssh.status).toBe(404);
  });

  it('stores revocation rules, revokes matching PATs now and refuses matching global PATs in the organization', async () => {
    const code = await createPat('bob@contoso.com', { displayName: 'rule-code', scope: 'vso.code_write' });
    const work = await createPat('bob@contoso.com', { displayName: 'rule-work', scope: 'vso.work' });
    const global = await createPat('bob@contoso.com', { displayName: 'rule-global', scope: 'vso.code', allOrgs: true });
    env.clock.advance(1000);
    for (const body of [{}, { scopes: '' }, { scopes: 'vso.bogus' }, { scopes: 'vso.code vso.code' }, { scopes: 'vso.code', createdBefore: 'yesterday' }]) {
      const reply = await asAlice.post(`${ADMIN}/revocationrules?api-version=7.1`, body);
      expect(reply.status, JSON.stringify(body)).toBe(400);
    }
    await drainAudit();
    const reply = await asAlice.post(`${ADMIN}/revocationrules?api-version=7.1`, { scopes: 'vso.code vso.packaging' });
    expect(reply.status).toBe(201);
    expect(reply.body).toBeUndefined();
    const repository = new PatRepository(env.app);
    const codeAfter = await repository.get(BOB.id, code.authorizationId);
    expect(codeAfter?.record).toMatchObject({ revocationKind: 'rule' });
    expect((await repository.get(BOB.id, work.authorizationId))?.record.revokedAt).toBeNull();
    const globalAfter = await repository.get(BOB.id, global.authorizationId);
    expect(globalAfter?.record.revokedAt).toBeNull();
    expect(await isRevokedByRule(env.app, CONTOSO, globalAfter!.record)).toBe(true);
    expect(await isRevokedByRule(env.app, FABRIKAM, globalAfter!.record)).toBe(false);
    expect(await isRevokedByRule(env.app, CONTOSO, (await repository.get(BOB.id, work.authorizationId))!.record)).toBe(false);
    const later = await createPat('bob@contoso.com', { scope: 'vso.code' });
    expect(await isRevokedByRule(env.app, CONTOSO, (await repository.get(BOB.id, later.authorizationId))!.record)).toBe(false);
    const events = await drainAudit();
    const system = events.filter((event) => event.actionId === 'Token.PatSystemRevokeEvent');
    expect(system.map((event) => event.data.AuthorizationId)).toContain(code.authorizationId);
    expect(system.map((event) => event.data.AuthorizationId)).not.toContain(work.authorizationId);
    expect(system.find((event) => event.data.AuthorizationId === code.authorizationId)).toMatchObject({
      actor: { kind: 'system' },
      data: { RevocationKind: 'rule', OwnerId: BOB.id, OwnerName: BOB.displayName, RequestedBy: ALICE.id, Scopes: 'vso.code_write' },
    });
    expect(events.some((event) => event.actionId === 'Token.RevocationRuleCreateEvent' && event.actor.id === ALICE.id)).toBe(true);
  });
});

describe('audit outbox', () => {
  it('writes one event per change with actor, IP, user agent, owner and correlation id, never the secret', async () => {
    await drainAudit();
    const headers = { 'x-forwarded-for': '198.51.100.4', 'user-agent': 'pat-script/2.0' };
    const create = await asDave.post(PATS, { displayName: 'audited', scope: 'vso.build', validTo: inDays(7) }, { headers });
    secrets.push(create.body.patToken.token);
    const id = create.body.patToken.authorizationId;
    await asDave.put(PATS, { authorizationId: id, displayName: 'audited-2' }, { headers });
    await asDave.delete(`${PATS}&authorizationId=${id}`, { headers });
    const events = (await drainAudit()).filter((event) => event.data.AuthorizationId === id);
    expect(events.map((event) => event.actionId)).toEqual(['Token.PatCreateEvent', 'Token.PatUpdateEvent', 'Token.PatRevokeEvent']);
    for (const event of events) {
      expect(event).toMatchObject({
        organizationId: CONTOSO,
        organizationName: 'contoso',
        area: 'Token',
        actor: { kind: 'user', id: DAVE.id, upn: DAVE.email },
        ipAddress: '198.51.100.4',
        userAgent: 'pat-script/2.0',
        scopeType: 'organization',
        data: { OwnerId: DAVE.id, Scopes: 'vso.build', TokenType: 'PersonalAccessToken' },
      });
      expect(JSON.stringify(event)).not.toContain(create.body.patToken.token);
    }
    expect(events[1]?.data).toMatchObject({ DisplayName: 'audited-2', Previous: { DisplayName: 'audited' } });
    expect(new Set(events.map((event) => event.correlationId)).size).toBe(3);
  });

  it('refuses a change while the audit queue is unavailable and commits nothing', async () => {
    const existing = await createPat('dave@contoso.com', { displayName: 'before-queue-down' });
    await drainAudit();
    const queue = env.app.storage.queue(QUEUES.audit);
    await queue.delete();
    try {
      const created = await asDave.post(PATS, { displayName: 'queue-down', scope: 'vso.code', validTo: inDays(7) });
      expect(created.status).toBe(503);
      expect(created.body).toMatchObject({ code: 'auditUnavailable' });
      const revoked = await asDave.delete(`${PATS}&authorizationId=${existing.authorizationId}`);
      expect(revoked.status).toBe(503);
      expect(revoked.headers.get('retry-after')).toBe('5');
    } finally {
      await queue.create();
    }
    const listed = await asDave.get(`${PATS}&displayFilterOption=all`);
    expect(listed.body.patTokens.map((t: { displayName: string }) => t.displayName)).not.toContain('queue-down');
    expect((await new PatRepository(env.app).get(DAVE.id, existing.authorizationId))?.record.revokedAt).toBeNull();
    expect(await listOutboxRows(env.app, TABLES.pats, patPartitionOf(existing.authorizationId))).toHaveLength(0);
  });
});

describe('concurrency', () => {
  it('never revives a revoked PAT when renewals race a revoke; losers get 409 or the final state, never 500', async () => {
    for (let round = 0; round < 3; round++) {
      const pat = await createPat('carol@contoso.com', { displayName: `race-${round}` });
      const renewals = Array.from({ length: 6 }, (_, i) =>
        api.asUser('carol@contoso.com').put(PATS, { authorizationId: pat.authorizationId, validTo: inDays(40 + i), displayName: `renew-${i}` }),
      );
      const revoke = api.asUser('carol@contoso.com').delete(`${PATS}&authorizationId=${pat.authorizationId}`);
      const replies = await Promise.all([...renewals, revoke]);
      for (const reply of replies.slice(0, -1)) {
        expect([200, 409]).toContain(reply.status);
        if (reply.status === 409) expect(['failedToUpdateAccessToken', undefined]).toContain(reply.body.patTokenError);
      }
      expect(replies.at(-1)?.status).toBe(204);
      const stored = await new PatRepository(env.app).get(CAROL.id, pat.authorizationId);
      expect(stored?.record.revokedAt).toBeTruthy();
      const later = await api.asUser('carol@contoso.com').put(PATS, { authorizationId: pat.authorizationId, validTo: inDays(90) });
      expect(later.status).toBe(409);
    }
  });

  it('serialises concurrent updates with ETags (each one applied or retried, none lost to a 500)', async () => {
    const pat = await createPat('carol@contoso.com', { displayName: 'etag' });
    const replies = await Promise.all(
      Array.from({ length: 5 }, (_, i) => api.asUser('carol@contoso.com').put(PATS, { authorizationId: pat.authorizationId, displayName: `n${i}` })),
    );
    for (const reply of replies) expect([200, 409]).toContain(reply.status);
    expect(replies.filter((reply) => reply.status === 200).length).toBeGreaterThanOrEqual(1);
    const stored = await new PatRepository(env.app).get(CAROL.id, pat.authorizationId);
    expect(stored?.record.displayName).toMatch(/^n[0-4]$/);
    expect(stored?.record.revokedAt).toBeNull();
    expect(stored?.record.authorizationId).toBe(pat.authorizationId);
    expect(patRowKey(pat.authorizationId)).toBe(`pat_${pat.authorizationId}`);
  });
});

describe('OpenAPI', () => {
  it('documents the new routes', async () => {
    const response = await api.get('/openapi.json');
    const document = response.body as { paths: Record<string, Record<string, unknown>> };
    expect(Object.keys(document.paths['/{organization}/_apis/tokens/pats'] ?? {}).sort()).toEqual(['delete', 'get', 'post', 'put']);
    expect(Object.keys(document.paths['/{organization}/_apis/tokens/policies'] ?? {}).sort()).toEqual(['get', 'put']);
    for (const path of [
      '/{organization}/_apis/tokens/policies/preview',
      '/{organization}/_apis/tokenadmin/personalaccesstokens/{subjectDescriptor}',
      '/{organization}/_apis/tokenadmin/revocations',
      '/{organization}/_apis/tokenadmin/revocationrules',
    ]) {
      expect(document.paths[path], path).toBeDefined();
    }
  });
});

describe('secrets at rest', () => {
  it('never stores, queues or logs a plaintext token', async () => {
    expect(secrets.length).toBeGreaterThan(20);
    const haystacks: string[] = [...drainedTexts];
    for await (const table of env.app.storage.tableService.listTables()) {
      for await (const entity of env.app.storage.table(table.name!).listEntities()) haystacks.push(JSON.stringify(entity));
    }
    for await (const queue of env.app.storage.queueService.listQueues()) {
      const client = env.app.storage.queue(queue.name);
      const { peekedMessageItems } = await client.peekMessages({ numberOfMessages: 32 });
      for (const message of peekedMessageItems) {
        haystacks.push(message.messageText, Buffer.from(message.messageText, 'base64').toString('utf8'));
      }
    }
    haystacks.push(...env.logs);
    expect(haystacks.length).toBeGreaterThan(50);
    const all = haystacks.join('\n');
    for (const secret of secrets) {
      expect(all.includes(secret)).toBe(false);
      expect(all.includes(secret.slice(6, 38))).toBe(false);
    }
    expect(findGatehouseTokens(all)).toEqual([]);
  });
});
