import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client, type Reply } from '../helpers/client.js';
import { addGuest, createOrganization } from '../helpers/directory.js';
import { expectSwaggerValid } from '../helpers/swagger.js';
import { createPat as createPatAs } from '../helpers/http.js';
import { DEMO_ORGANIZATIONS, DEMO_USERS } from '../../local/demo-data.js';
import { type AuditEvent } from '../../shared/audit/events.js';
import { settleBackgroundWork } from '../../shared/runtime/background.js';
import { QUEUES, TABLES } from '../../shared/storage/names.js';
import { checksumOf, findGatehouseTokens, generateToken } from '../../shared/secrets/format.js';
import { PatRepository, patPartitionOf, patRowKey } from '../../shared/tokens/repository.js';
import { expiryKeys } from '../../shared/storage/expiry-keys.js';
import { endGraceIfDue } from '../../shared/tokens/rotation.js';
import { patCredentialOf, patHasAnyScope } from '../../shared/tokens/authenticate.js';
import { readEntity } from '../../shared/storage/entities.js';
import { deliverAuditQueue, drainQueueTexts } from '../helpers/queues.js';

const CONTOSO = DEMO_ORGANIZATIONS[0].id;
const FABRIKAM = DEMO_ORGANIZATIONS[1].id;
const ALICE = DEMO_USERS.find((candidate) => candidate.email === 'alice@contoso.com')!;
const ERIN = DEMO_USERS.find((candidate) => candidate.email === 'erin@fabrikam.com')!;
let LABS = '';
const V = 'api-version=7.1-preview.1';
const TOKENS_71 = 'tokens/7.1/tokens.json';

let env: TestEnvironment;
const api = client(() => env);
const secrets: string[] = [];
const auditEvents: AuditEvent[] = [];

const asUser = async (email: string, scopes?: string[]) => `Bearer ${await env.userToken(email, scopes ? { scopes } : {})}`;
const basic = (user: string, password: string) => `Basic ${Buffer.from(`${user}:${password}`, 'latin1').toString('base64')}`;
const inDays = (days: number) => new Date(env.clock.now().getTime() + days * 86_400_000).toISOString();

interface Pat {
  authorizationId: string;
  token: string;
  validTo: string;
  validFrom: string;
  scope: string;
  targetAccounts: string[] | null;
  displayName: string;
}

async function createPat(
  email: string,
  body: Partial<{ displayName: string; scope: string; validTo: string; allOrgs: boolean }> = {},
  organization = 'contoso',
): Promise<Pat> {
  const pat = await createPatAs(env, { authorization: await asUser(email) }, body, organization);
  secrets.push(pat.token);
  return pat;
}

async function drainAudit(): Promise<AuditEvent[]> {
  await settleBackgroundWork(env.app);
  const drained = await deliverAuditQueue(env);
  auditEvents.push(...drained);
  return drained;
}

async function drainNotifications(): Promise<any[]> {
  await settleBackgroundWork(env.app);
  const drained: any[] = [];
  for (const text of await drainQueueTexts(env, QUEUES.notifications)) {
    expect(findGatehouseTokens(text)).toEqual([]);
    drained.push(JSON.parse(text));
  }
  return drained;
}

const connectionData = (authorization: string, organization = 'contoso', headers: Record<string, string> = {}) =>
  api.withAuthorization(authorization).get(`/${organization}/_apis/connectionData`, { headers });

/** A token with a valid checksum that was never issued. */
function unknownToken(): string {
  return generateToken('1', randomUUID());
}

/** Counts storage table clients handed out while `action` runs (every table read or write needs one). */
async function countTableAccess(action: () => Promise<void>): Promise<number> {
  await settleBackgroundWork(env.app);
  const spy = vi.spyOn(env.app.storage, 'table');
  try {
    await action();
    await settleBackgroundWork(env.app);
    // The change feed's own polling (other instances' changes) is not the request's doing.
    return spy.mock.calls.filter(([name]) => name !== TABLES.changes).length;
  } finally {
    spy.mockRestore();
  }
}

beforeAll(async () => {
  env = await startTestEnvironment({ now: '2025-05-01T08:00:00.000Z', settings: { LEAK_REPORTS_PER_MINUTE: '5' } });
  // alice joins fabrikam (another tenant) as a guest, and has a second organization of her own tenant.
  await addGuest(env, 'erin@fabrikam.com', 'fabrikam', 'alice@contoso.com');
  LABS = (await createOrganization(env, 'alice@contoso.com', 'contoso-labs')).id;
});
afterAll(async () => {
  await env?.stop();
});

describe('PAT authentication', () => {
  it('accepts Basic (Azure DevOps style) and Bearer, returning connectionData with the PAT facts', async () => {
    const pat = await createPat('alice@contoso.com', { scope: 'vso.code vso.packaging_write' });
    for (const authorization of [basic('', pat.token), basic('anything', pat.token), `Bearer ${pat.token}`, `bearer  ${pat.token}`]) {
      const reply = await connectionData(authorization);
      expect(reply.status, `${authorization.slice(0, 7)}: ${reply.text}`).toBe(200);
      expect(reply.body).toMatchObject({
        authenticatedUser: {
          id: ALICE.id,
          providerDisplayName: ALICE.displayName,
          properties: { Account: { $type: 'System.String', $value: ALICE.email } },
        },
        authorizedUser: { id: ALICE.id },
        instanceId: CONTOSO,
        locationServiceData: { serviceOwner: expect.any(String) },
        authorizationId: pat.authorizationId,
        scopes: 'vso.code vso.packaging_write',
        validTo: pat.validTo,
      });
      expect(reply.body.authenticatedUser.descriptor).toContain(ALICE.email);
    }
  });

  it('answers connectionData for a user bearer token too, without PAT fields', async () => {
    const reply = await connectionData(await asUser('bob@contoso.com'));
    expect(reply.status).toBe(200);
    expect(reply.body.authenticatedUser).toMatchObject({ id: DEMO_USERS[1]!.id, providerDisplayName: 'Bob Builder' });
    expect(reply.body).not.toHaveProperty('authorizationId');
  });

  it('refuses every failure with the same 401 body', async () => {
    const refusals: Reply[] = [];
    const expectRefused = async (authorization: string | undefined, organization = 'contoso', label = '') => {
      const reply = await api.withAuthorization(authorization).get(`/${organization}/_apis/connectionData`);
      expect(reply.status, `${label}: ${reply.text}`).toBe(401);
      refusals.push(reply);
    };

    // revoked
    const revoked = await createPat('alice@contoso.com');
    expect((await connectionData(`Bearer ${revoked.token}`)).status).toBe(200);
    const del = await api
      .withAuthorization(await asUser('alice@contoso.com'))
      .delete(`/contoso/_apis/tokens/pats?${V}&authorizationId=${revoked.authorizationId}`);
    expect(del.status).toBe(204);
    await expectRefused(`Bearer ${revoked.token}`, 'contoso', 'revoked');
    await expectRefused(basic('', revoked.token), 'contoso', 'revoked basic');

    // expired
    const shortLived = await createPat('alice@contoso.com', { validTo: inDays(1) });
    expect((await connectionData(`Bearer ${shortLived.token}`)).status).toBe(200);
    env.clock.advance(86_400_000 + 1000);
    await expectRefused(`Bearer ${shortLived.token}`, 'contoso', 'expired');

    // not yet valid: the clock moved back before validFrom
    const fresh = await createPat('alice@contoso.com');
    const now = env.clock.now();
    env.clock.set(new Date(now.getTime() - 3_600_000));
    await expectRefused(`Bearer ${fresh.token}`, 'contoso', 'not yet valid');
    env.clock.set(now);
    expect((await connectionData(`Bearer ${fresh.token}`)).status).toBe(200);

    // wrong organization (alice is a member of fabrikam, but the PAT targets contoso only)
    await expectRefused(`Bearer ${fresh.token}`, 'fabrikam', 'wrong org');
    // an organization that does not exist is the same refusal for a PAT
    await expectRefused(`Bearer ${fresh.token}`, 'no-such-org', 'unknown org');

    // unknown token (valid checksum), malformed values, other schemes, no credential
    await expectRefused(`Bearer ${unknownToken()}`, 'contoso', 'unknown');
    await expectRefused(basic('x', unknownToken()), 'contoso', 'unknown basic');
    await expectRefused(`Bearer ${fresh.token.slice(0, -1)}${fresh.token.endsWith('a') ? 'b' : 'a'}`, 'contoso', 'bad checksum');
    await expectRefused(`Bearer ${fresh.token.slice(0, 20)}`, 'contoso', 'truncated');
    await expectRefused(`Bearer ${fresh.token}${'x'.repeat(5000)}`, 'contoso', 'over-long');
    await expectRefused(basic('x', `${fresh.token.slice(0, -1)}\u00e9`), 'contoso', 'non-ASCII');
    await expectRefused('Basic %%%not-base64%%%', 'contoso', 'garbage basic');
    await expectRefused('Basic ', 'contoso', 'empty basic');
    await expectRefused(`Token ${fresh.token}`, 'contoso', 'other scheme');
    await expectRefused(`Digest ${fresh.token}`, 'contoso', 'digest');
    await expectRefused('Bearer garbage.jwt.value', 'contoso', 'garbage bearer');
    await expectRefused(undefined, 'contoso', 'no header');

    const first = refusals[0]!;
    for (const reply of refusals) {
      expect(reply.text).toBe(first.text);
      expect(reply.headers.get('www-authenticate')).toBe('Bearer');
    }
    expect(first.body.code).toBe('unauthorized');
  });

  it("accepts a global PAT in every organization of its owner's tenant, and nowhere else", async () => {
    const global = await createPat('alice@contoso.com', { allOrgs: true });
    expect((await connectionData(`Bearer ${global.token}`, 'contoso')).status).toBe(200);
    const labs = await connectionData(`Bearer ${global.token}`, 'contoso-labs');
    expect(labs.status).toBe(200);
    expect(labs.body.instanceId).toBe(LABS);
    // fabrikam is another tenant's: alice is a guest there, and her global PAT does not reach it
    expect((await connectionData(`Bearer ${global.token}`, 'fabrikam')).status).toBe(401);
    const fabrikamPat = await createPat('alice@contoso.com', {}, 'fabrikam');
    const fabrikam = await connectionData(`Bearer ${fabrikamPat.token}`, 'fabrikam');
    expect(fabrikam.status).toBe(200);
    expect(fabrikam.body.instanceId).toBe(FABRIKAM);
    // a global PAT of someone who is not a member: the same 401 as an organization that does not exist
    const bobGlobal = await createPat('bob@contoso.com', { allOrgs: true });
    expect((await connectionData(`Bearer ${bobGlobal.token}`, 'contoso-labs')).status).toBe(401);
    expect((await connectionData(`Bearer ${bobGlobal.token}`, 'no-such-organization')).status).toBe(401);
  });

  it('refuses a global PAT where a revocation rule matches it (within the cache window)', async () => {
    const global = await createPat('alice@contoso.com', { allOrgs: true, scope: 'vso.work' });
    expect((await connectionData(`Bearer ${global.token}`, 'contoso')).status).toBe(200);
    const rule = await api
      .withAuthorization(await asUser('alice@contoso.com', ['vso.tokenadministration']))
      .post('/contoso/_apis/tokenadmin/revocationrules?api-version=7.1', { scopes: 'vso.work', createdBefore: inDays(1) });
    expect(rule.status).toBe(201);
    env.clock.advance(11_000);
    const refused = await connectionData(`Bearer ${global.token}`, 'contoso');
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('unauthorized');
    // the rule is contoso's: the other organization of the tenant still accepts the global PAT
    expect((await connectionData(`Bearer ${global.token}`, 'contoso-labs')).status).toBe(200);
  });

  it('never lets a PAT call the PAT lifecycle API', async () => {
    const pat = await createPat('alice@contoso.com', { scope: 'app_token' });
    for (const authorization of [`Bearer ${pat.token}`, basic('', pat.token)]) {
      for (const [method, path] of [
        ['GET', `/contoso/_apis/tokens/pats?${V}`],
        ['POST', `/contoso/_apis/tokens/pats?${V}`],
        ['POST', `/contoso/_apis/tokens/pats/rotate?${V}&authorizationId=${pat.authorizationId}`],
        ['GET', '/contoso/_apis/projects?api-version=7.1'],
      ] as const) {
        const reply = await api
          .withAuthorization(authorization)
          .request(method, path, method === 'POST' ? { body: { displayName: 'x', scope: 'vso.code', validTo: inDays(3) } } : {});
        expect(reply.status, `${method} ${path}`).toBe(401);
      }
    }
  });

  it('extracts credentials offline and applies the scope hierarchy', () => {
    const authorizationId = randomUUID();
    const token = generateToken('1', authorizationId);
    expect(patCredentialOf(`Bearer ${token}`)).toEqual({ kind: 'pat', token, pepperVersion: '1', authorizationId });
    expect(patCredentialOf(basic('me', token))).toEqual({ kind: 'pat', token, pepperVersion: '1', authorizationId });
    expect(patCredentialOf('Bearer eyJhbGciOi.x.y')).toEqual({ kind: 'notPat' });
    expect(patCredentialOf(null)).toEqual({ kind: 'notPat' });
    expect(() => patCredentialOf(`Bearer ${token.slice(0, -1)}0`.replace(/0$/, token.endsWith('0') ? '1' : '0'))).toThrow();
    expect(() => patCredentialOf(basic('me', 'not-a-token'))).toThrow();
    const caller = (scope: string) => ({ scopes: new Set(scope.split(' ')) });
    expect(patHasAnyScope(caller('vso.packaging_write'), ['vso.packaging'])).toBe(true);
    expect(patHasAnyScope(caller('vso.packaging_manage'), ['vso.packaging_write'])).toBe(true);
    expect(patHasAnyScope(caller('vso.packaging'), ['vso.packaging_write'])).toBe(false);
    expect(patHasAnyScope(caller('vso.code'), ['vso.packaging'])).toBe(false);
    expect(patHasAnyScope(caller('app_token'), ['vso.packaging_manage'])).toBe(true);
  });

  it('reads no storage for a value that fails the format or checksum', async () => {
    const pat = await createPat('alice@contoso.com');
    const broken = `${pat.token.slice(0, -6)}${checksumOf('different')}`;
    const calls = await countTableAccess(async () => {
      for (const authorization of [
        `Bearer ${broken}`,
        basic('', broken),
        `Bearer ${pat.token.slice(0, 30)}`,
        `Bearer gat_1_${'A'.repeat(200)}`,
        basic('', 'gat_1_\u00ff\u00fe'),
        'Basic ####',
      ]) {
        expect((await connectionData(authorization)).status).toBe(401);
        expect((await api.withAuthorization(authorization).get(`/contoso/_apis/tokens/pats/self?${V}`)).status).toBe(401);
      }
      expect(
        (await api.post('/_apis/tokens/leaks', { tokens: [broken, 'gat_1_short', 'garbage'] }, { headers: { 'x-forwarded-for': '192.0.2.200' } })).status,
      ).toBe(202);
    });
    expect(calls).toBe(0);
  });

  it('needs one storage read to authenticate, none while cached, and drops the cache on a local revoke', async () => {
    const pat = await createPat('alice@contoso.com');
    const repository = PatRepository.prototype;
    const reads = vi.spyOn(repository, 'findSnapshot');
    const first = await connectionData(`Bearer ${pat.token}`);
    expect(first.status).toBe(200);
    expect(reads).toHaveBeenCalledTimes(1);
    expect((await connectionData(`Bearer ${pat.token}`)).status).toBe(200);
    expect(reads).toHaveBeenCalledTimes(1);
    reads.mockRestore();

    // Another instance revokes it: this instance keeps its cached answer for at most the cache TTL.
    const stored = (await new PatRepository(env.app).findByToken(pat.token))!;
    const id = stored.record.authorizationId;
    await env.app.storage
      .table(TABLES.pats)
      .updateEntity({ partitionKey: patPartitionOf(id), rowKey: patRowKey(id), revokedAt: env.clock.now().toISOString() }, 'Merge');
    expect((await connectionData(`Bearer ${pat.token}`)).status).toBe(200);
    env.clock.advance(10_001);
    expect((await connectionData(`Bearer ${pat.token}`)).status).toBe(401);

    // A revoke through this instance is effective at once.
    const other = await createPat('alice@contoso.com');
    expect((await connectionData(`Bearer ${other.token}`)).status).toBe(200);
    const del = await api
      .withAuthorization(await asUser('alice@contoso.com'))
      .delete(`/contoso/_apis/tokens/pats?${V}&authorizationId=${other.authorizationId}`);
    expect(del.status).toBe(204);
    expect((await connectionData(`Bearer ${other.token}`)).status).toBe(401);
  });
});

describe('self lookup', () => {
  it('shows metadata, days left, policy compliance and a rotation hint', async () => {
    const pat = await createPat('erin@fabrikam.com', { validTo: inDays(40), scope: 'app_token' }, 'fabrikam');
    const ok = await api.as(pat.token).get(`/fabrikam/_apis/tokens/pats/self?${V}`);
    expect(ok.status, ok.text).toBe(200);
    expect(ok.body).toMatchObject({
      authorizationId: pat.authorizationId,
      displayName: pat.displayName,
      scope: 'app_token',
      targetAccounts: [FABRIKAM],
      daysLeft: 40,
      policy: { compliant: true, violations: [], reasons: [] },
      rotation: { due: false, hint: null },
      rotatedTo: null,
      graceEndsAt: null,
    });
    expect(Object.keys(ok.body)).not.toContain('token');

    const policy = await api
      .withAuthorization(await asUser('erin@fabrikam.com'))
      .put(`/fabrikam/_apis/tokens/policies?${V}`, { maxPatLifespan: { enabled: true, maxDays: 30 }, restrictFullScopePats: { enabled: true } });
    expect(policy.status, policy.text).toBe(200);
    const violating = await api.withAuthorization(basic('', pat.token)).get(`/fabrikam/_apis/tokens/pats/self?${V}`);
    expect(violating.body.policy).toMatchObject({ compliant: false, violations: ['maxPatLifespan', 'restrictFullScopePats'] });
    expect(violating.body.policy.reasons).toHaveLength(2);
    expect(violating.body.rotation.due).toBe(true);

    const reset = await api
      .withAuthorization(await asUser('erin@fabrikam.com'))
      .put(`/fabrikam/_apis/tokens/policies?${V}`, { maxPatLifespan: { enabled: false }, restrictFullScopePats: { enabled: false } });
    expect(reset.status).toBe(200);
    const soon = await createPat('erin@fabrikam.com', { validTo: inDays(3) }, 'fabrikam');
    const hinted = await api.as(soon.token).get(`/fabrikam/_apis/tokens/pats/self?${V}`);
    expect(hinted.body).toMatchObject({ daysLeft: 3, rotation: { due: true } });
    expect(hinted.body.rotation.hint).toContain('rotate');
  });

  it('is for PATs only', async () => {
    const reply = await api.withAuthorization(await asUser('alice@contoso.com')).get(`/contoso/_apis/tokens/pats/self?${V}`);
    expect(reply.status).toBe(403);
    expect(reply.body.code).toBe('callerTypeNotAllowed');
  });
});

describe('introspection (RFC 7662)', () => {
  it('describes an active PAT to the introspection service, by form or JSON', async () => {
    const pat = await createPat('alice@contoso.com', { scope: 'vso.code_write' });
    const authorization = `Bearer ${await env.appToken('gitserver')}`;
    const form = await api
      .withAuthorization(authorization)
      .post('/_apis/tokens/introspect', undefined, { form: `token=${encodeURIComponent(pat.token)}&token_type_hint=pat` });
    expect(form.status, form.text).toBe(200);
    expect(form.body).toEqual({
      active: true,
      scope: 'vso.code_write',
      sub: ALICE.id,
      username: ALICE.email,
      org: CONTOSO,
      exp: Math.floor(Date.parse(pat.validTo) / 1000),
      iat: Math.floor(Date.parse(pat.validFrom) / 1000),
      token_type: 'pat',
      authorization_id: pat.authorizationId,
    });
    const json = await api.withAuthorization(authorization).post('/_apis/tokens/introspect', { token: pat.token });
    expect(json.body).toEqual(form.body);
  });

  it('answers exactly {active:false} for anything else', async () => {
    const authorization = `Bearer ${await env.appToken('gitserver')}`;
    const revoked = await createPat('alice@contoso.com');
    await api.withAuthorization(await asUser('alice@contoso.com')).delete(`/contoso/_apis/tokens/pats?${V}&authorizationId=${revoked.authorizationId}`);
    for (const token of [revoked.token, unknownToken(), 'garbage', '', revoked.token.slice(0, 20), `${revoked.token}x`, 'gat_1_\u00e9']) {
      const reply = await api.withAuthorization(authorization).post('/_apis/tokens/introspect', undefined, { form: `token=${encodeURIComponent(token)}` });
      expect(reply.status).toBe(200);
      expect(reply.text).toBe('{"active":false}');
    }
    const missing = await api.withAuthorization(authorization).post('/_apis/tokens/introspect', undefined, { form: 'nothing=here' });
    expect(missing.status).toBe(400);
  });

  it('is only for service principals with the introspection role', async () => {
    const pat = await createPat('alice@contoso.com');
    const form = `token=${pat.token}`;
    const pipelines = await api.as(await env.appToken('pipelines')).post('/_apis/tokens/introspect', undefined, { form });
    expect(pipelines.status).toBe(403);
    expect(pipelines.body.code).toBe('missingAppRole');
    const user = await api.withAuthorization(await asUser('alice@contoso.com')).post('/_apis/tokens/introspect', undefined, { form });
    expect(user.status).toBe(403);
    expect(user.body.code).toBe('callerTypeNotAllowed');
    expect((await api.as(pat.token).post('/_apis/tokens/introspect', undefined, { form })).status).toBe(401);
    expect((await api.post('/_apis/tokens/introspect', undefined, { form })).status).toBe(401);
  });
});

describe('last used', () => {
  it('records time, IP and user agent at most once a minute, with an event for each new IP', async () => {
    const pat = await createPat('alice@contoso.com');
    await drainAudit();
    const use = (ip: string, agent = 'git/2.45') => connectionData(`Bearer ${pat.token}`, 'contoso', { 'x-forwarded-for': ip, 'user-agent': agent });
    const usage = async () => {
      await settleBackgroundWork(env.app);
      return new PatRepository(env.app).getUsage(ALICE.id, pat.authorizationId);
    };
    const start = env.clock.now().toISOString();
    expect((await use('203.0.113.5')).status).toBe(200);
    expect(await usage()).toMatchObject({ time: start, ip: '203.0.113.5', userAgent: 'git/2.45', recentIps: ['203.0.113.5'] });

    env.clock.advance(30_000);
    expect((await use('203.0.113.5', 'curl/8')).status).toBe(200);
    expect((await use('203.0.113.5', 'curl/8')).status).toBe(200);
    expect((await usage())!.time).toBe(start); // throttled: same IP within the minute

    env.clock.advance(31_000);
    expect((await use('203.0.113.5', 'curl/8')).status).toBe(200);
    const later = await usage();
    expect(later).toMatchObject({ time: env.clock.now().toISOString(), userAgent: 'curl/8', recentIps: ['203.0.113.5'] });

    // a new IP is recorded at once, with its audit event
    env.clock.advance(5_000);
    expect((await use('198.51.100.7')).status).toBe(200);
    expect((await usage())!.recentIps).toEqual(['198.51.100.7', '203.0.113.5']);
    const events = (await drainAudit()).filter((event) => event.actionId === 'Token.PatUsedFromNewIpEvent');
    expect(events.map((event) => event.ipAddress)).toEqual(['203.0.113.5', '198.51.100.7']);
    expect(events[1]).toMatchObject({
      organizationId: CONTOSO,
      category: 'access',
      actor: { kind: 'user', id: ALICE.id },
      data: { AuthorizationId: pat.authorizationId, IpAddress: '198.51.100.7', PreviousIps: ['203.0.113.5'] },
    });

    // five most recent distinct IPs
    for (const ip of ['10.0.0.1', '10.0.0.2', '10.0.0.3', '10.0.0.4']) expect((await use(ip)).status).toBe(200);
    expect((await usage())!.recentIps).toEqual(['10.0.0.4', '10.0.0.3', '10.0.0.2', '10.0.0.1', '198.51.100.7']);
    expect((await drainAudit()).filter((event) => event.actionId === 'Token.PatUsedFromNewIpEvent')).toHaveLength(4);

    // get, list and the admin list show it beside the Azure DevOps fields
    const alice = await asUser('alice@contoso.com');
    const get = await api.withAuthorization(alice).get(`/contoso/_apis/tokens/pats?${V}&authorizationId=${pat.authorizationId}`);
    expect(get.body.patToken.lastUsed).toMatchObject({ ip: '10.0.0.4', recentIps: expect.arrayContaining(['198.51.100.7']) });
    const { lastUsed, ...adoFields } = get.body.patToken;
    expectSwaggerValid(TOKENS_71, 'PatTokenResult', { ...get.body, patToken: adoFields }, { exact: true });
    const list = await api.withAuthorization(alice).get(`/contoso/_apis/tokens/pats?${V}`);
    expect(list.body.patTokens.find((token: { authorizationId: string }) => token.authorizationId === pat.authorizationId).lastUsed.ip).toBe('10.0.0.4');
    const admin = await api
      .withAuthorization(await asUser('alice@contoso.com', ['vso.tokenadministration']))
      .get(`/contoso/_apis/tokenadmin/personalaccesstokens/aad.${Buffer.from(ALICE.id).toString('base64url')}?api-version=7.1`);
    expect(admin.body.value.find((token: { authorizationId: string }) => token.authorizationId === pat.authorizationId).lastUsed.ip).toBe('10.0.0.4');
  });
});

describe('rotation', () => {
  const rotate = async (authorizationId: string, query = '', headers: Record<string, string> = {}) =>
    api
      .withAuthorization(await asUser('alice@contoso.com'))
      .post(`/contoso/_apis/tokens/pats/rotate?${V}&authorizationId=${authorizationId}${query}`, undefined, { headers });

  it('rotates without grace: a new authorization in the create shape, the old secret dead at once', async () => {
    const old = await createPat('alice@contoso.com', { displayName: 'ci-deploy', scope: 'vso.code vso.build', validTo: inDays(20) });
    await drainAudit();
    const reply = await rotate(old.authorizationId);
    expect(reply.status, reply.text).toBe(200);
    expectSwaggerValid(TOKENS_71, 'PatTokenResult', reply.body, { exact: true });
    const next = reply.body.patToken;
    secrets.push(next.token);
    expect(next).toMatchObject({ displayName: 'ci-deploy', scope: 'vso.code vso.build', targetAccounts: [CONTOSO] });
    expect(next.authorizationId).not.toBe(old.authorizationId);
    expect(Date.parse(next.validTo) - Date.parse(next.validFrom)).toBe(Date.parse(old.validTo) - Date.parse(old.validFrom));
    expect((await connectionData(`Bearer ${old.token}`)).status).toBe(401);
    expect((await connectionData(`Bearer ${next.token}`)).body.authorizationId).toBe(next.authorizationId);
    const stored = await new PatRepository(env.app).get(ALICE.id, old.authorizationId);
    expect(stored!.record).toMatchObject({ rotatedTo: next.authorizationId, revocationKind: 'system', revocationReason: 'rotated' });
    const events = await drainAudit();
    expect(events.find((event) => event.actionId === 'Token.PatRotateEvent')).toMatchObject({
      actor: { id: ALICE.id },
      data: { AuthorizationId: next.authorizationId, PreviousAuthorizationId: old.authorizationId, GracePeriodMinutes: 0 },
    });
    expect(events.find((event) => event.actionId === 'Token.PatSystemRevokeEvent')).toMatchObject({
      data: { AuthorizationId: old.authorizationId, Reason: 'rotated', RotatedTo: next.authorizationId },
    });
    // rotating it again names the successor
    const again = await rotate(old.authorizationId);
    expect(again.status).toBe(409);
    expect(again.body).toMatchObject({ code: 'patAlreadyRotated', details: { successorAuthorizationId: next.authorizationId } });
  });

  it('keeps the old secret working for the grace period, then the timer hook finalises it once', async () => {
    const old = await createPat('alice@contoso.com');
    const reply = await rotate(old.authorizationId, '&gracePeriodMinutes=60');
    expect(reply.status, reply.text).toBe(200);
    secrets.push(reply.body.patToken.token);
    const graceEndsAt = new Date(env.clock.now().getTime() + 60 * 60_000).toISOString();
    const stored = (await new PatRepository(env.app).get(ALICE.id, old.authorizationId))!;
    expect(stored.record).toMatchObject({ rotatedTo: reply.body.patToken.authorizationId, graceEndsAt, revokedAt: null });
    await drainAudit();
    const keys = expiryKeys(graceEndsAt, old.authorizationId);
    expect(await readEntity(env.app.storage.table(TABLES.patExpiry), keys.partitionKey, keys.rowKey)).toMatchObject({
      ownerId: ALICE.id,
      authorizationId: old.authorizationId,
    });

    env.clock.advance(59 * 60_000);
    expect((await connectionData(`Bearer ${old.token}`)).status).toBe(200);
    const self = await api.as(old.token).get(`/contoso/_apis/tokens/pats/self?${V}`);
    expect(self.body).toMatchObject({ rotatedTo: reply.body.patToken.authorizationId, graceEndsAt, rotation: { due: true } });
    expect(await endGraceIfDue(env.app, ALICE.id, old.authorizationId, env.clock.now())).toBe(false);

    env.clock.advance(60_000);
    // refused from graceEndsAt on, before any timer ran
    expect((await connectionData(`Bearer ${old.token}`)).status).toBe(401);
    expect((await connectionData(`Bearer ${reply.body.patToken.token}`)).status).toBe(200);
    expect(await endGraceIfDue(env.app, ALICE.id, old.authorizationId, env.clock.now())).toBe(true);
    expect(await endGraceIfDue(env.app, ALICE.id, old.authorizationId, env.clock.now())).toBe(false);
    const finalised = (await new PatRepository(env.app).get(ALICE.id, old.authorizationId))!.record;
    expect(finalised).toMatchObject({ revocationKind: 'system', revocationReason: 'rotated' });
    expect(await readEntity(env.app.storage.table(TABLES.patExpiry), keys.partitionKey, keys.rowKey)).toBeUndefined();
    const revokes = (await drainAudit()).filter((event) => event.actionId === 'Token.PatSystemRevokeEvent');
    expect(revokes).toHaveLength(1);
    expect(revokes[0]!.data).toMatchObject({ AuthorizationId: old.authorizationId, Reason: 'rotated' });
  });

  it('lets a PAT rotate itself, idempotently with Idempotency-Key', async () => {
    const old = await createPat('alice@contoso.com', { displayName: 'self-rotating' });
    const before = (await new PatRepository(env.app).listByOwner(ALICE.id)).length;
    const headers = { 'idempotency-key': 'job-4711/attempt' };
    const first = await api.as(old.token).post(`/contoso/_apis/tokens/pats/self/rotate?${V}&gracePeriodMinutes=30`, undefined, { headers });
    expect(first.status, first.text).toBe(200);
    secrets.push(first.body.patToken.token);
    expectSwaggerValid(TOKENS_71, 'PatTokenResult', first.body, { exact: true });
    // the retry (with the old secret, still in its grace period) gets the same answer
    env.clock.advance(5 * 60_000);
    const retry = await api
      .withAuthorization(basic('', old.token))
      .post(`/contoso/_apis/tokens/pats/self/rotate?${V}&gracePeriodMinutes=30`, undefined, { headers });
    expect(retry.status, retry.text).toBe(200);
    expect(retry.body).toEqual(first.body);
    // the owner's retry by id with the same key too
    const byOwner = await rotate(old.authorizationId, '&gracePeriodMinutes=30', headers);
    expect(byOwner.body).toEqual(first.body);
    expect((await new PatRepository(env.app).listByOwner(ALICE.id)).length).toBe(before + 1);
    // the new token still works: a retry never revokes it
    expect((await connectionData(`Bearer ${first.body.patToken.token}`)).status).toBe(200);

    // without the key, or with another key: 409 naming the successor
    for (const extra of [{}, { 'idempotency-key': 'other-key' }] as Record<string, string>[]) {
      const conflict = await api.as(old.token).post(`/contoso/_apis/tokens/pats/self/rotate?${V}`, undefined, { headers: extra });
      expect(conflict.status).toBe(409);
      expect(conflict.body.details.successorAuthorizationId).toBe(first.body.patToken.authorizationId);
      expect(conflict.body.message).toContain(first.body.patToken.authorizationId);
    }
  });

  it('rejects malformed Idempotency-Key and grace values without writing anything', async () => {
    const old = await createPat('alice@contoso.com');
    const before = (await new PatRepository(env.app).listByOwner(ALICE.id)).length;
    for (const key of ['has space', 'k'.repeat(129), 'caf\u00e9', 'a\tb']) {
      const reply = await api.as(old.token).post(`/contoso/_apis/tokens/pats/self/rotate?${V}`, undefined, { headers: { 'idempotency-key': key } });
      expect(reply.status, key).toBe(400);
      expect(reply.body.code).toBe('invalidIdempotencyKey');
    }
    for (const grace of ['1441', '-1', 'soon', '1.5']) {
      const reply = await rotate(old.authorizationId, `&gracePeriodMinutes=${grace}`);
      expect(reply.status, grace).toBe(400);
      expect(reply.body.code ?? reply.headers.get('x-gatehouse-error')).toBe('invalidGracePeriod');
    }
    const missing = await rotate(randomUUID());
    expect(missing.status).toBe(404);
    expect(missing.body.patTokenError).toBe('authorizationNotFound');
    expect((await new PatRepository(env.app).listByOwner(ALICE.id)).length).toBe(before);
    expect((await connectionData(`Bearer ${old.token}`)).status).toBe(200);
  });

  it('clamps the new validTo to the lifespan policy', async () => {
    const old = await createPat('erin@fabrikam.com', { validTo: inDays(200) }, 'fabrikam');
    const policy = await api
      .withAuthorization(await asUser('erin@fabrikam.com'))
      .put(`/fabrikam/_apis/tokens/policies?${V}`, { maxPatLifespan: { enabled: true, maxDays: 30 } });
    expect(policy.status).toBe(200);
    const reply = await api.as(old.token).post(`/fabrikam/_apis/tokens/pats/self/rotate?${V}`);
    expect(reply.status, reply.text).toBe(200);
    secrets.push(reply.body.patToken.token);
    expect(reply.body.patToken.validTo).toBe(inDays(30));
    await api.withAuthorization(await asUser('erin@fabrikam.com')).put(`/fabrikam/_apis/tokens/policies?${V}`, { maxPatLifespan: { enabled: false } });
  });
});

describe('leak reports', () => {
  const report = (tokens: unknown, ip = '192.0.2.10', extra: Record<string, unknown> = {}) =>
    api.post('/_apis/tokens/leaks', { tokens, ...extra }, { headers: { 'x-forwarded-for': ip } });

  it('revokes a live leaked token, audits discovery and revocation, and tells the owner', async () => {
    const pat = await createPat('alice@contoso.com', { displayName: 'leaky' });
    await drainAudit();
    await drainNotifications();
    const reply = await report([pat.token, unknownToken(), 'not a token'], '192.0.2.10', { url: 'https://github.com/example/repo/blob/main/.npmrc' });
    expect(reply.status).toBe(202);
    expect(reply.body).toEqual({ accepted: true });
    await settleBackgroundWork(env.app);
    expect((await connectionData(`Bearer ${pat.token}`)).status).toBe(401);
    const record = (await new PatRepository(env.app).get(ALICE.id, pat.authorizationId))!.record;
    expect(record).toMatchObject({ revocationKind: 'system', revocationReason: 'leaked' });
    const events = await drainAudit();
    expect(events.map((event) => event.actionId)).toEqual(['Token.PatPublicDiscoveryEvent', 'Token.PatSystemRevokeEvent']);
    expect(events[0]).toMatchObject({
      actor: { kind: 'system' },
      ipAddress: '192.0.2.10',
      data: { AuthorizationId: pat.authorizationId, AutoRevocation: true, Url: 'https://github.com/example/repo/blob/main/.npmrc' },
    });
    const notes = await drainNotifications();
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({
      kind: 'token.leaked',
      recipient: { userId: ALICE.id, email: ALICE.email },
      data: { authorizationId: pat.authorizationId, revoked: true },
    });
  });

  it('answers the same 202 for invalid checksums, unknown and already revoked tokens, and does nothing', async () => {
    const pat = await createPat('alice@contoso.com');
    await api.withAuthorization(await asUser('alice@contoso.com')).delete(`/contoso/_apis/tokens/pats?${V}&authorizationId=${pat.authorizationId}`);
    await drainAudit();
    const replies = [
      await report([`${pat.token.slice(0, -1)}${pat.token.endsWith('a') ? 'b' : 'a'}`], '192.0.2.11'),
      await report([unknownToken()], '192.0.2.11'),
      await report([pat.token], '192.0.2.11'),
    ];
    for (const reply of replies) {
      expect(reply.status).toBe(202);
      expect(reply.text).toBe(replies[0]!.text);
    }
    expect(await drainAudit()).toEqual([]);
    expect(await drainNotifications()).toEqual([]);
  });

  it('only audits and notifies when the organization turned auto-revocation off', async () => {
    const pat = await createPat('erin@fabrikam.com', {}, 'fabrikam');
    const policy = await api
      .withAuthorization(await asUser('erin@fabrikam.com'))
      .put(`/fabrikam/_apis/tokens/policies?${V}`, { leakedPatAutoRevocation: { enabled: false } });
    expect(policy.status).toBe(200);
    await drainAudit();
    await drainNotifications();
    expect((await report([pat.token], '192.0.2.12')).status).toBe(202);
    await settleBackgroundWork(env.app);
    expect((await connectionData(`Bearer ${pat.token}`, 'fabrikam')).status).toBe(200);
    const events = (await drainAudit()).filter((event) => event.actionId !== 'Token.PatUsedFromNewIpEvent');
    expect(events.map((event) => event.actionId)).toEqual(['Token.PatPublicDiscoveryEvent']);
    expect(events[0]!.data).toMatchObject({ AutoRevocation: false, OwnerId: ERIN.id });
    const notes = await drainNotifications();
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ kind: 'token.leaked', data: { revoked: false } });
  });

  it('refuses oversized batches and candidates with a code', async () => {
    const many = Array.from({ length: 101 }, () => unknownToken());
    const tooMany = await report(many, '192.0.2.13');
    expect(tooMany.status).toBe(400);
    expect(tooMany.body.code).toBe('tooManyCandidates');
    const longOne = await report(['x'.repeat(257)], '192.0.2.14');
    expect(longOne.status).toBe(400);
    expect(longOne.body.code).toBe('invalidCandidate');
    const empty = await report([], '192.0.2.15');
    expect(empty.status).toBe(400);
    const wrongType = await report([42], '192.0.2.16');
    expect(wrongType.status).toBe(400);
    const huge = await api.post('/_apis/tokens/leaks', JSON.stringify({ tokens: ['a'.repeat(2 * 1024 * 1024)] }), {
      headers: { 'x-forwarded-for': '192.0.2.17' },
    });
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe('requestBodyTooLarge');
    const notJson = await api.post('/_apis/tokens/leaks', 'tokens=[', { headers: { 'x-forwarded-for': '192.0.2.18' } });
    expect(notJson.status).toBe(400);
  });

  it('rate-limits reports per client IP', async () => {
    const ip = '198.18.0.1';
    for (let i = 0; i < 5; i++) expect((await report([unknownToken()], ip)).status).toBe(202);
    const limited = await report([unknownToken()], ip);
    expect(limited.status).toBe(429);
    expect(limited.body.code).toBe('leakReportRateLimited');
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0);
    expect((await report([unknownToken()], '198.18.0.2')).status).toBe(202);
    env.clock.advance(60_000);
    expect((await report([unknownToken()], ip)).status).toBe(202);
  });
});

describe('secrets', () => {
  it('never writes a secret to a log, table or queue', async () => {
    await settleBackgroundWork(env.app);
    expect(secrets.length).toBeGreaterThan(10);
    const logs = env.logs.join('\n');
    const haystacks: string[] = [logs];
    for await (const table of env.app.storage.tableService.listTables()) {
      for await (const entity of env.app.storage.table(table.name!).listEntities()) haystacks.push(JSON.stringify(entity));
    }
    for await (const queue of env.app.storage.queueService.listQueues()) {
      const peeked = await env.app.storage.queue(queue.name).peekMessages({ numberOfMessages: 32 });
      for (const message of peeked.peekedMessageItems) haystacks.push(Buffer.from(message.messageText, 'base64').toString('utf8'), message.messageText);
    }
    const all = haystacks.join('\n');
    for (const secret of secrets) {
      expect(all.includes(secret)).toBe(false);
      expect(all.includes(secret.slice(6, 38))).toBe(false);
    }
    expect(findGatehouseTokens(all)).toEqual([]);
    expect(auditEvents.length).toBeGreaterThan(0);
  });
});
