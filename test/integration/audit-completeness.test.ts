import { generateKeyPairSync } from 'node:crypto';
import { odata } from '@azure/data-tables';
import sshpk from 'sshpk';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { QUEUES, TABLES } from '../../shared/storage/names.js';
import { readAll } from '../../shared/storage/entities.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { createPat } from '../helpers/http.js';
import { deliverAuditQueue, drainQueueTexts, poisonedAuditMessages } from '../helpers/queues.js';
import { findAction } from '../../shared/audit/actions.js';
import { runLifecycle } from '../../shared/lifecycle/run.js';
import { PatRepository } from '../../shared/tokens/repository.js';
import { pendingBackgroundWork } from '../../shared/runtime/background.js';

/** An event is stored if and only if its change committed, whatever text the change carries. */
let env: TestEnvironment;
const api = client(() => env);
const PAT_V = 'api-version=7.1-preview.1';
const LONE = '\ud800';

beforeAll(async () => {
  env = await startTestEnvironment({ now: '2026-05-04T10:00:00.000Z' });
});
afterAll(async () => {
  await env?.stop();
});

async function expiryRowsOf(authorizationId: string): Promise<number> {
  return (await readAll(env.app.storage.table(TABLES.patExpiry), odata`authorizationId eq ${authorizationId}`)).length;
}

describe('text that used to poison an event after its change committed', () => {
  it('stores the event and the expiry row of a PAT named with a lone surrogate, on create and on a rename', async () => {
    const alice = { token: await env.userToken('alice@contoso.com') };
    const pat = await createPat(env, alice, { displayName: `build ${LONE}` });
    let events = await deliverAuditQueue(env);
    const created = events.find((event) => event.actionId === 'Token.PatCreateEvent' && event.data.AuthorizationId === pat.authorizationId);
    expect(created?.data.DisplayName).toBe('build \ufffd');
    expect(await expiryRowsOf(pat.authorizationId)).toBe(1);

    const renamed = await api.as(alice.token).put(`/contoso/_apis/tokens/pats?${PAT_V}`, {
      authorizationId: pat.authorizationId,
      displayName: `x${LONE}y`,
      scope: 'app_token',
      validTo: new Date(env.clock.now().getTime() + 3000 * 86_400_000).toISOString(),
    });
    expect(renamed.status, renamed.text).toBe(200);
    events = await deliverAuditQueue(env);
    const updated = events.find((event) => event.actionId === 'Token.PatUpdateEvent' && event.data.AuthorizationId === pat.authorizationId);
    expect(updated?.data).toMatchObject({ DisplayName: 'x\ufffdy', Scopes: 'app_token' });
    expect(await expiryRowsOf(pat.authorizationId)).toBe(1);
    expect(await poisonedAuditMessages(env)).toBe(0);
  });

  it('stores the event of a caller whose display name is cut in the middle of a surrogate pair', async () => {
    const name = `${'a'.repeat(255)}😀b`;
    const token = await env.userToken('bob@contoso.com', { displayName: name });
    const pat = await createPat(env, { token });
    const events = await deliverAuditQueue(env);
    const created = events.find((event) => event.actionId === 'Token.PatCreateEvent' && event.data.AuthorizationId === pat.authorizationId);
    expect(created).toBeDefined();
    expect(created!.actor.displayName).toBe('a'.repeat(255));
    expect(await poisonedAuditMessages(env)).toBe(0);
  });

  it('stores the event of an SSH key whose name and comment hold lone surrogates', async () => {
    const pem = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' }) as string;
    const line = `${sshpk.parseKey(pem, 'pem').toString('ssh').split(' ').slice(0, 2).join(' ')} laptop${LONE}`;
    const added = await api.asUser('dave@contoso.com').post(`/contoso/_apis/tokens/sshkeys?${PAT_V}`, {
      displayName: `key ${LONE}`,
      publicData: line,
      validTo: new Date(env.clock.now().getTime() + 30 * 86_400_000).toISOString(),
    });
    expect(added.status, added.text).toBe(200);
    const events = await deliverAuditQueue(env);
    expect(events.some((event) => event.actionId === 'Token.SshCreateEvent' && event.data.DisplayName === 'key \ufffd')).toBe(true);
    expect(await poisonedAuditMessages(env)).toBe(0);
  });
});

describe('directory changes are audited, each with exactly one catalogued event', () => {
  const V = 'api-version=7.1';
  async function oneEvent(change: () => Promise<{ status: number; text: string }>, expected: number, actionId: string) {
    await deliverAuditQueue(env);
    const reply = await change();
    expect(reply.status, reply.text).toBe(expected);
    const events = await deliverAuditQueue(env);
    expect(events.map((event) => event.actionId)).toEqual([actionId]);
    expect(findAction(actionId), actionId).toBeDefined();
    return events[0]!;
  }

  it('audits creating an organization, projects and every membership change', async () => {
    const alice = { token: await env.userToken('alice@contoso.com') };
    const created = await oneEvent(() => api.as(alice.token).post(`/_apis/organizations?${V}`, { name: 'audited-org' }), 201, 'Organization.Create');
    expect(created.organizationName).toBe('audited-org');
    expect(created.data).toMatchObject({ AdministratorId: (await env.app.directory.getUserByEmail('alice@contoso.com'))!.id });

    const project = await oneEvent(() => api.as(alice.token).post(`/contoso/_apis/projects?${V}`, { name: 'audited' }), 201, 'Project.CreateCompleted');
    expect(project.data).toMatchObject({ ProjectName: 'audited', Visibility: 'private' });
    const updated = await oneEvent(
      () => api.as(alice.token).patch(`/contoso/_apis/projects/audited?${V}`, { visibility: 'public' }),
      200,
      'Project.UpdateCompleted',
    );
    expect(updated.data).toMatchObject({ PreviousVisibility: 'private', Visibility: 'public' });

    const tina = (await env.app.directory.getUserByEmail('tina@contoso.com'))!;
    const added = await oneEvent(
      () => api.as(alice.token).post(`/contoso/_apis/userentitlements?${V}`, { user: { principalName: 'tina@contoso.com' } }),
      201,
      'Group.UpdateGroupMembership',
    );
    expect(added.data).toMatchObject({ Change: 'add', MemberId: tina.id });
    const promoted = await oneEvent(
      () => api.as(alice.token).patch(`/contoso/_apis/userentitlements/${tina.id}?${V}`, { groups: ['projectCollectionAdministrators'] }),
      200,
      'Group.UpdateGroupMembership',
    );
    expect(promoted.data).toMatchObject({ Change: 'modify', PreviousGroups: 'none', Groups: 'projectCollectionAdministrators' });
    const removed = await oneEvent(() => api.as(alice.token).delete(`/contoso/_apis/userentitlements/${tina.id}?${V}`), 204, 'Group.UpdateGroupMembership');
    expect(removed.data).toMatchObject({ Change: 'remove', PreviousGroups: 'projectCollectionAdministrators' });
  });
});

describe('notices reach the inbox of a known identity, by id or by email', () => {
  const V = 'api-version=7.1';
  const grantRequest = (requesterEmail: string) => ({
    requesterName: 'Requester',
    requesterEmail,
    projects: ['oss'],
    repositories: ['https://github.com/contoso/oss-parser'],
    description: 'An open-source library for parsing configuration files, built and tested on every pull request by volunteers.',
  });
  const deliverNotifications = async () => {
    for (const text of await drainQueueTexts(env, QUEUES.notifications)) await env.runtime.invoke('notification-sender', JSON.parse(text));
  };
  const inboxKinds = async (email: string, organization: string) => {
    const reply = await api.asUser(email).get(`/${organization}/_apis/notifications?${V}`);
    expect(reply.status, reply.text).toBe(200);
    return (reply.body.value as { kind: string }[]).map((notice) => notice.kind);
  };

  it('puts a grant request notice addressed by email into the requester’s inbox, and never into a stranger’s', async () => {
    const filed = await api.asUser('alice@contoso.com').post(`/contoso/_apis/pipelines/freegrantrequests?${V}`, grantRequest('alice@contoso.com'));
    expect(filed.status, filed.text).toBe(201);
    await deliverNotifications();
    expect(await inboxKinds('alice@contoso.com', 'contoso')).toContain('grantRequest.submitted');

    // Naming a person who is not a member of the organization delivers nothing into their inbox.
    await api.asUser('bob@contoso.com').post(`/_apis/organizations?${V}`, { name: 'spoofing-org' });
    const project = await api.asUser('bob@contoso.com').post(`/spoofing-org/_apis/projects?${V}`, { name: 'oss', visibility: 'public' });
    expect(project.status, project.text).toBe(201);
    const spoof = await api.asUser('bob@contoso.com').post(`/spoofing-org/_apis/pipelines/freegrantrequests?${V}`, grantRequest('erin@fabrikam.com'));
    expect(spoof.status, spoof.text).toBe(201);
    await deliverNotifications();
    expect(await inboxKinds('erin@fabrikam.com', 'fabrikam')).not.toContain('grantRequest.submitted');
  });
});

describe('feeds', () => {
  const V = 'api-version=7.1';
  it('audits creating and changing a feed, and keeps both of two concurrent edits', async () => {
    const token = await env.userToken('alice@contoso.com', { scopes: ['vso.packaging_manage'] });
    await deliverAuditQueue(env);
    const created = await api.as(token).post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'edits' });
    expect(created.status, created.text).toBe(201);
    let events = await deliverAuditQueue(env);
    expect(events.map((event) => event.actionId)).toEqual(['Artifacts.Feed.Org.Create']);

    const [description, contributors] = await Promise.all([
      api.as(token).patch(`/contoso/_apis/packaging/feeds/edits?${V}`, { description: 'the team feed' }),
      api.as(token).patch(`/contoso/_apis/packaging/feeds/edits?${V}`, { contributors: ['da7e0000-0000-4000-8000-00000000000d'] }),
    ]);
    expect([description.status, contributors.status]).toEqual([200, 200]);
    const feed = await api.as(token).get(`/contoso/_apis/packaging/feeds/edits?${V}`);
    expect(feed.body).toMatchObject({ description: 'the team feed', contributors: ['da7e0000-0000-4000-8000-00000000000d'] });
    events = await deliverAuditQueue(env);
    expect(events.map((event) => event.actionId)).toEqual(['Artifacts.Feed.Org.Modify', 'Artifacts.Feed.Org.Modify']);
    expect(events.flatMap((event) => event.data.ChangedFields as string[]).sort()).toEqual(['Contributors', 'Description']);
  });
});

describe('security work is done before the answer, not in the background', () => {
  it('revokes a leaked token before answering the report, even one its owner can no longer use in its own organization', async () => {
    const pat = await createPat(env, { token: await env.userToken('dave@contoso.com') }, { allOrgs: true });
    // dave leaves contoso: the token is refused there, but it still works wherever else he is a member.
    await env.app.directory.deleteMembership('0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11', 'user', 'da7e0000-0000-4000-8000-00000000000d');
    const reported = await api.post('/_apis/tokens/leaks', { tokens: [pat.token], url: 'https://example.com/paste' });
    expect(reported.status).toBe(202);
    // No background work is left to lose: the revocation is already stored.
    expect(pendingBackgroundWork(env.app)).toBe(0);
    const stored = await new PatRepository(env.app).getById(pat.authorizationId);
    expect(stored?.record.revokedAt).not.toBeNull();
    expect(stored?.record.revocationReason).toBe('leaked');
    await env.app.directory.saveMembership({
      organizationId: '0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11',
      subjectKind: 'user',
      subjectId: 'da7e0000-0000-4000-8000-00000000000d',
      groups: [],
      projects: [],
    });
  });

  it('records a use from a new address, with its event, before the request is answered', async () => {
    const pat = await createPat(env, { token: await env.userToken('bob@contoso.com') });
    await deliverAuditQueue(env);
    const used = await api.as(pat.token).get('/contoso/_apis/connectionData', { headers: { 'x-forwarded-for': '198.51.100.23' } });
    expect(used.status).toBe(200);
    const events = await deliverAuditQueue(env);
    expect(events.find((event) => event.actionId === 'Token.PatUsedFromNewIpEvent')?.data).toMatchObject({ AuthorizationId: pat.authorizationId });
  });
});

describe('every expiring row has a purge path on a timer', () => {
  it('deletes a rotation’s idempotent replay (which decrypts to a live token) once its 24 hours are over', async () => {
    const owner = { token: await env.userToken('carol@contoso.com') };
    const pat = await createPat(env, owner);
    const rotated = await api
      .as(owner.token)
      .post(`/contoso/_apis/tokens/pats/rotate?${PAT_V}&authorizationId=${pat.authorizationId}`, undefined, { headers: { 'Idempotency-Key': 'purge-me' } });
    expect(rotated.status, rotated.text).toBe(200);
    await deliverAuditQueue(env);
    const replays = async () =>
      (
        await readAll(
          env.app.storage.table(TABLES.pats),
          odata`PartitionKey eq ${pat.authorizationId.slice(0, 4)} and RowKey ge ${'idem_'} and RowKey lt ${'idem`'}`,
        )
      ).length;
    expect(await replays()).toBe(1);
    await runLifecycle(env.app);
    expect(await replays()).toBe(1);
    env.clock.advance(24 * 3_600_000 + 60_000);
    await runLifecycle(env.app);
    expect(await replays()).toBe(0);
  });
});
