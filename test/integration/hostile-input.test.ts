import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { createPat, type CreatedPat } from '../helpers/http.js';
import { LocalNpmRegistry, packPackages, tempDir, type PackedTarball } from '../helpers/npm.js';
import { deliverAuditQueue, drainQueueTexts } from '../helpers/queues.js';
import { DEMO_ORGANIZATIONS } from '../../local/demo-data.js';
import { isAuditEventStored } from '../../shared/audit/writer.js';
import type { AuditEvent } from '../../shared/audit/events.js';
import { settleBackgroundWork } from '../../shared/runtime/background.js';
import { QUEUES, TABLES, poisonQueueName } from '../../shared/storage/names.js';
import { packagePartition } from '../../shared/packaging/store.js';
import { findGatehouseTokens } from '../../shared/secrets/format.js';
import { REDACTED_TOKEN } from '../../shared/secrets/redaction.js';

/**
 * What an outsider or a member can make Gatehouse do with hostile input, each written as the attack
 * that worked before: dependency confusion through upstream order, spoofed client addresses, secrets
 * in free text, deep JSON, forged audit events, key squatting and silently ignored body fields.
 */

let env: TestEnvironment;
const api = client(() => env);
let upstream: LocalNpmRegistry;
let publicLib: Map<string, PackedTarball>;
let internalLib: PackedTarball;
const V = 'api-version=7.1';
const PAT_V = 'api-version=7.1-preview.1';
const CONTOSO = DEMO_ORGANIZATIONS[0];

const user = (email: string, scopes?: string[]) => env.userToken(email, scopes ? { scopes } : {});

async function drainAudit(): Promise<AuditEvent[]> {
  await settleBackgroundWork(env.app);
  return deliverAuditQueue(env);
}

async function drainNotifications(): Promise<{ subject: string; body: string; data: Record<string, unknown> }[]> {
  await settleBackgroundWork(env.app);
  return (await drainQueueTexts(env, QUEUES.notifications)).map((text) => JSON.parse(text));
}

/** The document `npm publish` sends; `nested`, when given, is an extra manifest field. */
function publishDocument(t: PackedTarball, nested?: unknown) {
  return {
    _id: t.name,
    name: t.name,
    'dist-tags': { latest: t.version },
    versions: {
      [t.version]: {
        name: t.name,
        version: t.version,
        description: 'the internal library',
        dist: { shasum: t.shasum, integrity: t.integrity },
        ...(nested === undefined ? {} : { nested }),
      },
    },
    _attachments: { [`${t.name}-${t.version}.tgz`]: { content_type: 'application/octet-stream', data: t.bytes.toString('base64'), length: t.bytes.length } },
  };
}

beforeAll(async () => {
  const work = await tempDir('hostile');
  const [publicPacked, internalPacked] = await Promise.all([
    packPackages(join(work, 'public'), [
      { name: 'corp-lib', version: '1.0.0', description: 'PUBLIC impostor' },
      { name: 'corp-lib', version: '1.0.1', description: 'PUBLIC impostor' },
    ]),
    packPackages(join(work, 'internal'), [{ name: 'corp-lib', version: '1.0.0', description: 'the internal library' }]),
  ]);
  publicLib = new Map(publicPacked.map((item) => [item.version, item]));
  internalLib = internalPacked[0]!;
  upstream = new LocalNpmRegistry();
  upstream.add(...publicPacked);
  await upstream.start();
  env = await startTestEnvironment({ settings: { NPM_UPSTREAM_URL: upstream.url, LEAK_REPORTS_PER_MINUTE: '3' } });
}, 180_000);

afterAll(async () => {
  await env?.stop();
  await upstream?.stop();
});

describe('dependency confusion', () => {
  const REG = (feed: string) => `/contoso/_packaging/${feed}/npm/registry`;

  async function savedVersions(feedId: string): Promise<string[]> {
    const rows: string[] = [];
    for await (const row of env.app.storage.table(TABLES.npmPackages).listEntities<{ version: string; origin: string }>({
      queryOptions: { filter: `PartitionKey eq '${packagePartition(feedId, 'corp-lib')}' and RowKey ge 'v_' and RowKey lt 'v\`'` },
    }))
      rows.push(`${row.version}:${row.origin}`);
    return rows.sort();
  }

  it('serves an internal name only from internal sources, whatever the upstream order, and the colliding version from the internal feed', async () => {
    const alice = await user('alice@contoso.com', ['vso.packaging_manage']);
    const internal = await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'corp-internal', upstreamEnabled: false });
    expect(internal.status, internal.text).toBe(201);
    expect((await api.as(alice).put(`${REG('corp-internal')}/corp-lib`, publishDocument(internalLib))).status).toBe(201);

    const orders = {
      'public-first': [{ upstreamSourceType: 'public' }, { upstreamSourceType: 'internal', internalUpstreamFeedId: 'corp-internal' }],
      'internal-first': [{ upstreamSourceType: 'internal', internalUpstreamFeedId: 'corp-internal' }, { upstreamSourceType: 'public' }],
    };
    for (const [name, upstreamSources] of Object.entries(orders)) {
      const feed = await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, { name, upstreamSources });
      expect(feed.status, feed.text).toBe(201);
      const packument = await api.as(alice).get(`${REG(name)}/corp-lib`);
      expect(packument.status, `${name}: ${packument.text}`).toBe(200);
      expect(Object.keys(packument.body.versions), name).toEqual(['1.0.0']);
      expect(packument.body.versions['1.0.0'].description, name).toBe('the internal library');
      expect(packument.body.versions['1.0.0'].dist.integrity, name).toBe(internalLib.integrity);

      const tarball = await env.fetch(`${REG(name)}/corp-lib/-/corp-lib-1.0.0.tgz`, { token: alice });
      expect(tarball.status, name).toBe(200);
      expect(Buffer.from(await tarball.arrayBuffer()).equals(internalLib.bytes), name).toBe(true);
      const blocked = await env.fetch(`${REG(name)}/corp-lib/-/corp-lib-1.0.1.tgz`, { token: alice });
      expect(blocked.status, name).toBe(404);
      await blocked.body?.cancel();
      expect(await savedVersions(feed.body.id), name).toEqual(['1.0.0:internal']);

      // Allowing external versions lets the public 1.0.1 in; 1.0.0 still comes from the internal feed.
      const allow = await api
        .as(alice)
        .patch(`/contoso/_apis/packaging/feeds/${name}/npm/packages/corp-lib/upstreaming?${V}`, { versionsFromExternalUpstreams: 'AllowExternalVersions' });
      expect(allow.status, allow.text).toBeLessThan(300);
      const widened = await api.as(alice).get(`${REG(name)}/corp-lib`);
      expect(Object.keys(widened.body.versions).sort(), name).toEqual(['1.0.0', '1.0.1']);
      expect(widened.body.versions['1.0.0'].dist.integrity, name).toBe(internalLib.integrity);
      expect(widened.body.versions['1.0.1'].dist.integrity, name).toBe(publicLib.get('1.0.1')!.integrity);
    }
  });
});

describe('client address', () => {
  it('does not let a varied first X-Forwarded-For entry escape the per-address leak report limit', async () => {
    const statuses: number[] = [];
    for (let i = 1; i <= 5; i++) {
      // A proxy we trust (loopback, in this environment) saw 203.0.113.50; the entry left of it is the client's claim.
      const reply = await api.post('/_apis/tokens/leaks', { tokens: ['not-a-token'] }, { headers: { 'x-forwarded-for': `198.51.100.${i}, 203.0.113.50` } });
      statuses.push(reply.status);
    }
    expect(statuses).toEqual([202, 202, 202, 429, 429]);
  });

  it('records a use with a garbage or hostile header, and a token-shaped User-Agent, with the new-IP event', async () => {
    const owner = await user('carol@contoso.com');
    const pat = await createPat(env, { token: owner });
    const other = await createPat(env, { token: owner });
    await drainAudit();

    const garbage = await api.as(pat.token).get('/contoso/_apis/connectionData', { headers: { 'x-forwarded-for': 'garbage!!, <script>' } });
    expect(garbage.status).toBe(200);
    let events = (await drainAudit()).filter((event) => event.actionId === 'Token.PatUsedFromNewIpEvent');
    expect(events.map((event) => event.ipAddress)).toEqual(['127.0.0.1']);
    const got = await api.as(owner).get(`/contoso/_apis/tokens/pats?${PAT_V}&authorizationId=${pat.authorizationId}`);
    expect(got.body.patToken.lastUsed.ip).toBe('127.0.0.1');

    env.clock.advance(120_000);
    const spoofed = await api
      .as(pat.token)
      .get('/contoso/_apis/connectionData', { headers: { 'x-forwarded-for': '192.0.2.99, 198.51.100.23', 'user-agent': `exfil/1.0 (${other.token})` } });
    expect(spoofed.status).toBe(200);
    events = (await drainAudit()).filter((event) => event.actionId === 'Token.PatUsedFromNewIpEvent');
    expect(events).toHaveLength(1);
    expect(events[0]!.ipAddress).toBe('198.51.100.23');
    expect(events[0]!.userAgent).toBe(`exfil/1.0 (${REDACTED_TOKEN})`);
    const after = await api.as(owner).get(`/contoso/_apis/tokens/pats?${PAT_V}&authorizationId=${pat.authorizationId}`);
    expect(after.body.patToken.lastUsed.ip).toBe('198.51.100.23');
    expect(JSON.stringify(after.body)).not.toContain(other.token);
  });
});

describe('secrets in user-supplied text', () => {
  const connection = (pat: CreatedPat) => api.as(pat.token).get('/contoso/_apis/connectionData', { headers: { 'x-forwarded-for': '192.0.2.1' } });

  it('revokes every reported token even when the URL quotes one, and forwards no reporter text to the owner', async () => {
    const owner = await user('dave@contoso.com');
    const [a, b, c] = [await createPat(env, { token: owner }), await createPat(env, { token: owner }), await createPat(env, { token: owner })];
    await drainAudit();
    await drainNotifications();
    const report = await api.post(
      '/_apis/tokens/leaks',
      { tokens: [a.token, b.token], url: `https://paste.example/raw/1?t=${a.token}` },
      { headers: { 'x-forwarded-for': '192.0.2.77' } },
    );
    expect(report.status).toBe(202);
    const phishing = await api.post(
      '/_apis/tokens/leaks',
      { tokens: [c.token], url: 'URGENT: call +1 555 0100 to restore your access' },
      { headers: { 'x-forwarded-for': '192.0.2.78' } },
    );
    expect(phishing.status).toBe(202);
    await settleBackgroundWork(env.app);

    for (const pat of [a, b, c]) expect((await connection(pat)).status).toBe(401);
    const events = await drainAudit();
    expect(events.filter((event) => event.actionId === 'Token.PatSystemRevokeEvent')).toHaveLength(3);
    const discovery = events.find((event) => event.actionId === 'Token.PatPublicDiscoveryEvent' && event.data.AuthorizationId === a.authorizationId);
    expect(discovery?.data.Url).toBe(`https://paste.example/raw/1?t=${REDACTED_TOKEN}`);

    const notices = await drainNotifications();
    expect(notices).toHaveLength(3);
    for (const notice of notices) {
      expect(findGatehouseTokens(JSON.stringify(notice))).toEqual([]);
      expect(JSON.stringify(notice)).not.toContain('URGENT');
      expect(JSON.stringify(notice)).not.toContain('?t=');
    }
    expect(notices.some((notice) => notice.body.includes('https://paste.example/raw/1 (as given by the reporter, unverified)'))).toBe(true);
  });

  it('stores token-shaped display names and descriptions redacted instead of failing with a 500', async () => {
    const owner = await user('bob@contoso.com');
    const victim = await createPat(env, { token: owner });
    const reply = await api.as(owner).post(`/contoso/_apis/tokens/pats?${PAT_V}`, {
      displayName: `deploy key ${victim.token}`,
      scope: 'vso.code',
      validTo: new Date(env.clock.now().getTime() + 86_400_000).toISOString(),
    });
    expect(reply.status, reply.text).toBe(200);
    expect(reply.body.patToken.displayName).toBe(`deploy key ${REDACTED_TOKEN}`);
    env.issuedSecrets.add(reply.body.patToken.token);
    const project = await api
      .as(await user('alice@contoso.com'))
      .post(`/contoso/_apis/projects?${V}`, { name: 'leaky', description: `token: ${victim.token}` });
    expect(project.status, project.text).toBe(201);
    expect(project.body.description).toBe(`token: ${REDACTED_TOKEN}`);
    await drainAudit();
  });

  it('redacts a PAT in a check-suite approver comment before it is stored (the same scan as every audit write)', async () => {
    const owner = await user('alice@contoso.com');
    const leaked = await createPat(env, { token: owner });
    const suiteId = randomUUID();
    const response = await api.as(await env.appToken('pipelines')).post(`/contoso/_apis/audit/checksuites?api-version=7.1-preview.1`, {
      checkSuiteId: suiteId,
      status: 'approved',
      completedOn: env.clock.now().toISOString(),
      projectId: CONTOSO.projects[0].id,
      pipeline: { id: 1, name: 'ci' },
      run: { id: 2, name: 'run' },
      stage: { name: 'prod' },
      checkRuns: [
        {
          id: randomUUID(),
          type: 'Approval',
          status: 'approved',
          approvers: [{ id: randomUUID(), displayName: 'Approver', decision: 'approved', comment: `use ${leaked.token} for the deploy` }],
        },
      ],
    });
    expect(response.status, response.text).toBe(201);
    const stored: string[] = [];
    for await (const row of env.app.storage.table(TABLES.auditLog).listEntities<{ Data?: string; ActionId?: string }>()) {
      if (row.ActionId === 'CheckSuite.Completed') stored.push(row.Data ?? '');
    }
    expect(stored.join()).toContain(`use ${REDACTED_TOKEN} for the deploy`);
    expect(stored.join()).not.toContain(leaked.token);
  });
});

describe('deep JSON', () => {
  it('answers 400 jsonTooDeep to an npm manifest nested 20,000 levels deep, and to deep bodies elsewhere', async () => {
    const alice = await user('alice@contoso.com', ['vso.packaging_manage']);
    expect((await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'deep', upstreamEnabled: false })).status).toBe(201);
    const deep = `${'{"a":'.repeat(20_000)}1${'}'.repeat(20_000)}`;
    // A publish npm would accept in every other respect, with a manifest field nested 20,000 levels deep.
    const manifest = JSON.stringify(publishDocument(internalLib, 'NESTED')).replace('"NESTED"', deep);
    const publish = await api.as(alice).put('/contoso/_packaging/deep/npm/registry/corp-lib', manifest);
    expect(publish.status, publish.text.slice(0, 200)).toBe(400);
    expect(publish.body.code).toBe('jsonTooDeep');

    const owner = await user('alice@contoso.com');
    const arrays = `{"displayName":"x","scope":"vso.code","extra":${'['.repeat(20_000)}${']'.repeat(20_000)}}`;
    const pat = await api.as(owner).post(`/contoso/_apis/tokens/pats?${PAT_V}`, arrays);
    expect(pat.status).toBe(400);
    expect(pat.body.patTokenError ?? pat.body.code).toBe('jsonTooDeep');
  });
});

describe('forged audit events', () => {
  it('stores no event that comes without its proof, even through the admin API with the key', async () => {
    const forged: AuditEvent = {
      id: randomUUID(),
      schemaVersion: 1,
      timestamp: env.clock.now().toISOString(),
      organizationId: CONTOSO.id,
      organizationName: CONTOSO.name,
      actionId: 'Token.PatRevokeEvent',
      area: 'Token',
      category: 'remove',
      actor: { kind: 'user', id: randomUUID(), displayName: 'Someone Else', authenticationMechanism: 'EntraBearer' },
      correlationId: randomUUID(),
      activityId: randomUUID(),
      scopeType: 'organization',
      scopeId: CONTOSO.id,
      data: { DisplayName: 'forged' },
    };
    const noKey = await env.fetch('/admin/functions/audit-writer', {
      method: 'POST',
      headers: { 'content-type': 'text/plain' },
      body: JSON.stringify({ input: forged }),
    });
    expect(noKey.status).toBe(401);
    const withKey = await env.fetch('/admin/functions/audit-writer', {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-functions-key': env.masterKey },
      body: JSON.stringify({ input: forged }),
    });
    expect(withKey.status).toBe(202);
    const signedWrongly = { ...forged, id: randomUUID(), ingestion: { keyVersion: '1', signature: '0'.repeat(64) } };
    await env.runtime.invoke('audit-writer', signedWrongly);
    expect(await isAuditEventStored(env.app, forged)).toBe(false);
    expect(await isAuditEventStored(env.app, signedWrongly)).toBe(false);
    const poison = await drainQueueTexts(env, poisonQueueName(QUEUES.audit));
    expect(poison.filter((text) => text.includes(forged.id) || text.includes(signedWrongly.id))).toHaveLength(2);
    expect(env.logs.some((line) => line.includes('no proof') && line.includes(forged.id))).toBe(true);
    expect(env.logs.some((line) => line.includes('signature does not match') && line.includes(signedWrongly.id))).toBe(true);
  });
});

describe('SSH key squatting', () => {
  const KEYS = `/contoso/_apis/tokens/sshkeys?${PAT_V}`;

  it('lets the holder of the private key take its key back from a squatter with a signed challenge', async () => {
    const dir = await tempDir('ssh');
    const keyFile = join(dir, 'id_ed25519');
    execFileSync('ssh-keygen', ['-q', '-t', 'ed25519', '-N', '', '-C', 'alice@laptop', '-f', keyFile]);
    const publicData = readFileSync(`${keyFile}.pub`, 'utf8').trim();
    const sign = (challenge: string, namespace = 'gatehouse-ssh-key-proof') =>
      execFileSync('ssh-keygen', ['-Y', 'sign', '-f', keyFile, '-n', namespace], { input: challenge }).toString('utf8');
    const alice = await user('alice@contoso.com');
    const bob = await user('bob@contoso.com');

    // Bob registers Alice's public key first.
    const squat = await api.as(bob).post(KEYS, { displayName: 'mine, honest', publicData });
    expect(squat.status, squat.text).toBe(200);
    expect(squat.body.sshKey.proven).toBe(false);
    expect((await api.as(alice).post(KEYS, { displayName: 'laptop', publicData })).body.sshKeyError).toBe('duplicateHash');

    const challenge = await api.as(alice).get(`/contoso/_apis/tokens/sshkeys/challenge?${PAT_V}`);
    expect(challenge.status, challenge.text).toBe(200);
    // Proofs that must not count: wrong namespace, a challenge issued to someone else, a signature of other text.
    const bobChallenge = (await api.as(bob).get(`/contoso/_apis/tokens/sshkeys/challenge?${PAT_V}`)).body.challenge as string;
    for (const proof of [
      { challenge: challenge.body.challenge, signature: sign(challenge.body.challenge, 'git') },
      { challenge: bobChallenge, signature: sign(bobChallenge) },
      { challenge: challenge.body.challenge, signature: sign('something else') },
    ]) {
      const refused = await api.as(alice).post(KEYS, { displayName: 'laptop', publicData, proofOfPossession: proof });
      expect(refused.status).toBe(400);
      expect(refused.body.sshKeyError).toBe('invalidProofOfPossession');
    }
    // Bob cannot use Alice's proof either: the challenge is bound to Alice.
    const stolen = await api
      .as(bob)
      .post(KEYS, { displayName: 'mine', publicData, proofOfPossession: { challenge: challenge.body.challenge, signature: sign(challenge.body.challenge) } });
    expect(stolen.body.sshKeyError).toBe('invalidProofOfPossession');

    const proven = await api
      .as(alice)
      .post(KEYS, { displayName: 'laptop', publicData, proofOfPossession: { challenge: challenge.body.challenge, signature: sign(challenge.body.challenge) } });
    expect(proven.status, proven.text).toBe(200);
    expect(proven.body.sshKey).toMatchObject({ proven: true, status: 'active' });
    const squatter = await api.as(bob).get(`${KEYS}&authorizationId=${squat.body.sshKey.authorizationId}`);
    expect(squatter.body.sshKey.status).toBe('revoked');

    const lookup = await api.as(await env.appToken('gitserver')).post(`/_apis/tokens/sshkeys/lookup?${PAT_V}`, { publicKey: publicData });
    expect(lookup.body.value).toEqual([expect.objectContaining({ authorizationId: proven.body.sshKey.authorizationId, proven: true })]);
    // A proven key cannot be taken over again.
    const again = await api.as(bob).post(KEYS, { displayName: 'mine again', publicData });
    expect(again.body.sshKeyError).toBe('duplicateHash');
    await drainAudit();
  });
});

describe('strict bodies', () => {
  it('refuses a rotate whose body carries gracePeriodMinutes (a query parameter) and leaves the old token working', async () => {
    const owner = await user('carol@contoso.com');
    const pat = await createPat(env, { token: owner });
    const rotate = await api.as(owner).post(`/contoso/_apis/tokens/pats/rotate?${PAT_V}&authorizationId=${pat.authorizationId}`, { gracePeriodMinutes: 5 });
    expect(rotate.status).toBe(400);
    expect(rotate.body.code).toBe('invalidRequestBody');
    expect(rotate.body.message).toContain("'gracePeriodMinutes'");
    expect((await api.as(pat.token).get('/contoso/_apis/connectionData')).status).toBe(200);
    const plain = await api.as(owner).post(`/contoso/_apis/tokens/pats/rotate?${PAT_V}&authorizationId=${pat.authorizationId}&gracePeriodMinutes=5`);
    expect(plain.status, plain.text).toBe(200);
    env.issuedSecrets.add(plain.body.patToken.token);
    await drainAudit();
  });

  it('names unknown fields everywhere, and accepts the Azure DevOps model fields Gatehouse ignores', async () => {
    const alice = await user('alice@contoso.com', ['vso.packaging_manage']);
    const unknown = await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'strict-feed', upstreamSourcez: [] });
    expect(unknown.status).toBe(400);
    expect(unknown.body).toMatchObject({ code: 'invalidRequestBody', details: [{ path: 'upstreamSourcez', message: 'unknown field' }] });
    const nested = await api
      .as(alice)
      .post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'strict-feed', upstreamSources: [{ upstreamSourceType: 'public', locaton: 'x' }] });
    expect(nested.status).toBe(400);
    expect(nested.body.message).toContain("'upstreamSources.0.locaton'");
    const adoModel = await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, {
      name: 'strict-feed',
      badgesEnabled: false,
      hideDeletedPackageVersions: true,
      upstreamSources: [{ upstreamSourceType: 'public', id: randomUUID(), status: 'ok', displayLocation: 'npmjs' }],
    });
    expect(adoModel.status, adoModel.text).toBe(201);
    const owner = await user('alice@contoso.com');
    const readers = await api
      .as(owner)
      .put(`/contoso/_apis/audit/readers/b0b00000-0000-4000-8000-00000000000b?api-version=7.1-preview.1`, { permissions: 'all' });
    expect(readers.status).toBe(400);
    expect(readers.body.code).toBe('invalidRequestBody');
  });
});
