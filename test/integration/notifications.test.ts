import { createHmac, generateKeyPairSync, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import ICAL from 'ical.js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { createPat as createPatAs } from '../helpers/http.js';
import { declarations } from '../../functions/declarations.js';
import { createAppContext, useAppContext } from '../../shared/app-context.js';
import { loadConfig } from '../../shared/config.js';
import { generatePepperSetting } from '../../local/dev-secrets.js';
import { resealSealedValues } from '../../shared/lifecycle/reseal.js';
import { sealedVersion } from '../../shared/secrets/sealing.js';
import { runLifecycle } from '../../shared/lifecycle/run.js';
import { enqueueNotification, notificationMessage } from '../../shared/notifications/messages.js';
import { poisonQueueName, QUEUES, TABLES } from '../../shared/storage/names.js';
import { ALICE, DAVE } from '../helpers/demo.js';
import { deliverAuditQueue } from '../helpers/queues.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;
const V = 'api-version=7.1';

let env: TestEnvironment;
const api = client(() => env);
const asAlice = api.asUser('alice@contoso.com');
const asDave = api.asUser('dave@contoso.com');
let receiver: Server;
let receiverUrl = '';
const received: { body: string; headers: Record<string, string | string[] | undefined> }[] = [];
/** How the receiver answers: 'ok', or fail the next N requests, or always fail. */
let receiverMode: { failNext: number; always: boolean } = { failNext: 0, always: false };
let webhookSecret = '';

const at = (ms: number) => new Date(env.clock.now().getTime() + ms).toISOString();

async function createPat(email: string, organization: string, validTo: string, displayName = `pat-${randomUUID().slice(0, 8)}`, scope = 'vso.code') {
  return createPatAs(env, { token: await env.userToken(email) }, { displayName, scope, validTo }, organization);
}

/** The rungs (and 'expired') a token's owner was notified about, from the `notificationsent` table. */
async function noticesFor(authorizationId: string): Promise<(number | string)[]> {
  const markers: (number | string)[] = [];
  for await (const row of env.app.storage.table(TABLES.notificationSent).listEntities({
    queryOptions: { filter: `PartitionKey eq 'pat_${authorizationId}'` },
  })) {
    const marker = String(row.rowKey).split('_')[1] ?? '';
    markers.push(marker.startsWith('r') ? Number(marker.slice(1)) : marker);
  }
  return markers;
}

function verifySignature(body: string, header: string | string[] | undefined, secret: string): boolean {
  if (typeof header !== 'string' || !header.startsWith('sha256=')) return false;
  const expected = createHmac('sha256', secret).update(body).digest();
  const given = Buffer.from(header.slice('sha256='.length), 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

function opensshEd25519(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const part = (data: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, data.length]), data]);
  return `ssh-ed25519 ${Buffer.concat([part(Buffer.from('ssh-ed25519')), part(raw)]).toString('base64')} calendar@gatehouse`;
}

async function listInbox(email: string, organization = 'contoso', query = '') {
  return api.asUser(email).get(`/${organization}/_apis/notifications?${V}${query}`);
}

beforeAll(async () => {
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks).toString('utf8'), headers: req.headers });
      const fail = receiverMode.always || receiverMode.failNext > 0;
      if (receiverMode.failNext > 0) receiverMode.failNext--;
      res.writeHead(fail ? 500 : 204).end();
    });
  });
  await new Promise<void>((resolve) => receiver.listen(0, '127.0.0.1', resolve));
  receiverUrl = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/hooks/gatehouse`;
  env = await startTestEnvironment({
    now: '2025-03-01T10:00:00.000Z',
    triggers: true,
    host: { maxDequeueCount: 2, visibilityTimeoutSeconds: 0, maxPollingIntervalMs: 200 },
    // Runs of the lifecycle timer are started by the tests (the wall-clock schedule would race them).
    declarations: declarations.filter((declaration) => declaration.name !== 'lifecycle'),
    settings: { NOTIFICATION_WEBHOOK_ATTEMPTS: '2', NOTIFICATION_WEBHOOK_RETRY_DELAY_MS: '10', NOTIFICATION_WEBHOOK_TIMEOUT_MS: '2000' },
  });
});
afterAll(async () => {
  await env?.stop();
  await new Promise<void>((resolve) => receiver?.close(() => resolve()));
});

describe('organization notification settings', () => {
  it('has the default ladder and refuses malformed ladders with a code', async () => {
    // A webhook URL is a credential: only administrators read the settings.
    const byMember = await asDave.get(`/contoso/_apis/notifications/settings?${V}`);
    expect(byMember.status).toBe(403);
    expect(byMember.body.code).toBe('accessDenied');
    const initial = await asAlice.get(`/contoso/_apis/notifications/settings?${V}`);
    expect(initial.status).toBe(200);
    expect(initial.body).toMatchObject({ expiryNotificationDays: [30, 7, 1], webhook: null });
    for (const bad of [[-1], [0], [7, 7], [1.5], [400], Array.from({ length: 11 }, (_, i) => i + 1), 'seven']) {
      const reply = await asAlice.put(`/contoso/_apis/notifications/settings?${V}`, { expiryNotificationDays: bad });
      expect(reply.status, JSON.stringify(bad)).toBe(400);
      expect(reply.body.code).toBe('invalidNotificationLadder');
    }
    const notAdmin = await asDave.put(`/contoso/_apis/notifications/settings?${V}`, { expiryNotificationDays: [5] });
    expect(notAdmin.status).toBe(403);
  });

  it('refuses webhook URLs that are not https, except localhost in development', async () => {
    for (const url of ['http://hooks.example.com/x', 'ftp://example.com/x', 'not a url', 'https://user:pw@example.com/x']) {
      const reply = await asAlice.put(`/contoso/_apis/notifications/webhook?${V}`, { url });
      expect(reply.status, url).toBe(400);
      expect(reply.body.code).toBe('invalidWebhookUrl');
    }
    const generated = await asAlice.put(`/contoso/_apis/notifications/webhook?${V}`, { url: 'https://hooks.example.com/gatehouse' });
    expect(generated.status).toBe(200);
    expect(generated.body.secret).toMatch(/^[A-Za-z0-9_-]{43}$/);
    const local = await asAlice.put(`/contoso/_apis/notifications/webhook?${V}`, { url: receiverUrl, secret: 'a-secret-of-at-least-16' });
    expect(local.status).toBe(200);
    expect(local.body.secret).toBeUndefined();
    webhookSecret = 'a-secret-of-at-least-16';
    const settings = await asAlice.get(`/contoso/_apis/notifications/settings?${V}`);
    expect(settings.body.webhook.url).toBe(receiverUrl);
    expect(JSON.stringify(settings.body)).not.toContain(webhookSecret);
  });
});

describe('expiry reminder ladder', () => {
  it('sends each rung once, only the rungs still ahead for tokens created inside one, and follows changed ladders', async () => {
    // fabrikam uses its own ladder.
    const ladder = await api.asUser('erin@fabrikam.com').put(`/fabrikam/_apis/notifications/settings?${V}`, { expiryNotificationDays: [3, 14] });
    expect(ladder.status).toBe(200);
    expect(ladder.body.expiryNotificationDays).toEqual([14, 3]);

    const a = await createPat('alice@contoso.com', 'contoso', at(40 * DAY), 'deploy, prod; "main"');
    const f = await createPat('erin@fabrikam.com', 'fabrikam', at(20 * DAY));
    await runLifecycle(env.app); // the first run starts every rung's cursor at "now"
    env.clock.advance(HOUR);
    const b = await createPat('dave@contoso.com', 'contoso', at(10 * DAY)); // inside the 30-day rung
    const c = await createPat('dave@contoso.com', 'contoso', at(5 * DAY)); // inside the 30- and 7-day rungs

    let changed = false;
    for (let day = 0; day < 42; day++) {
      env.clock.advance(DAY);
      await runLifecycle(env.app);
      if (day === 0) {
        // A second run at the same moment queues nothing again.
        const again = await runLifecycle(env.app);
        expect(again.counters.remindersQueued).toBe(0);
      }
      if (day === 25 && !changed) {
        // contoso drops the 1-day rung: a's last reminder is then never sent.
        changed = true;
        const reply = await asAlice.put(`/contoso/_apis/notifications/settings?${V}`, { expiryNotificationDays: [30, 7, 2] });
        expect(reply.status).toBe(200);
      }
    }
    expect((await noticesFor(a.authorizationId)).sort()).toEqual([2, 30, 7, 'expired'].sort());
    expect((await noticesFor(b.authorizationId)).sort()).toEqual([1, 7, 'expired'].sort());
    expect((await noticesFor(c.authorizationId)).sort()).toEqual([1, 'expired'].sort());
    expect((await noticesFor(f.authorizationId)).sort()).toEqual([14, 3, 'expired'].sort());

    await env.runtime.drainQueues();
    const inbox = await listInbox('alice@contoso.com', 'contoso', '&$top=100');
    const mine = inbox.body.value.filter((notice: any) => notice.data.id === a.authorizationId);
    expect(mine.map((notice: any) => notice.data.rung ?? 'expired')).toEqual(['expired', 2, 7, 30]);
    const thirty = mine.find((notice: any) => notice.data.rung === 30);
    expect(thirty).toMatchObject({ kind: 'token.expiring', isRead: false, organizationId: expect.any(String) });
    expect(thirty.data).toMatchObject({ itemKind: 'pat', name: 'deploy, prod; "main"', organization: 'contoso', validTo: a.validTo, daysLeft: 30 });
    expect(thirty.subject).toContain('expires in 30 days');
    expect(thirty.body).toContain('PUT /contoso/_apis/tokens/pats');
    // Only the owner's inbox holds them.
    const dave = await listInbox('dave@contoso.com');
    expect(dave.body.value.some((notice: any) => notice.data.id === a.authorizationId)).toBe(false);
  });
});

describe('notification delivery', () => {
  it('POSTs every notice to the webhook with a verifiable HMAC-SHA256 signature', async () => {
    await env.runtime.drainQueues();
    expect(received.length).toBeGreaterThan(0);
    for (const delivery of received) {
      expect(verifySignature(delivery.body, delivery.headers['x-gatehouse-signature'], webhookSecret)).toBe(true);
      expect(verifySignature(delivery.body, delivery.headers['x-gatehouse-signature'], 'another-secret-value')).toBe(false);
      const payload = JSON.parse(delivery.body);
      expect(payload.organization.name).toBe('contoso');
      expect(delivery.headers['x-gatehouse-delivery']).toBe(payload.id);
      expect(delivery.headers['x-gatehouse-event']).toBe(payload.kind);
    }
    // Each notice once (the inbox row records that the webhook took it).
    const ids = received.map((delivery) => JSON.parse(delivery.body).id);
    expect(new Set(ids).size).toBe(ids.length);
    expect(env.logs.join('\n')).not.toContain(webhookSecret);
  });

  it('keeps signing and replaying rotations after the token pepper is rotated and the old version retired (the runbook in docs/operations.md)', async () => {
    const old = env.settings.TOKEN_PEPPERS!;
    const fresh = generatePepperSetting('2');
    const withPeppers = (peppers: string) =>
      createAppContext(loadConfig({ ...env.settings, TOKEN_PEPPERS: peppers, CHANGE_FEED_POLL_MS: '0' }), { clock: env.clock, log: env.app.log });
    // A rotation with Idempotency-Key before the switch: its reply (the new token) is sealed under the old version.
    const pat = await createPat('dave@contoso.com', 'contoso', at(10 * DAY));
    const rotateWithKey = async () =>
      api.asUser('dave@contoso.com').post(`/contoso/_apis/tokens/pats/rotate?${V}&authorizationId=${pat.authorizationId}&gracePeriodMinutes=30`, undefined, {
        headers: { 'Idempotency-Key': 'pepper-rotation' },
      });
    const first = await rotateWithKey();
    expect(first.status, first.text).toBe(200);
    await deliverAuditQueue(env);
    try {
      // 1. The new version goes in front; the lifecycle timer's re-seal step seals every sealed value under it.
      const rotated = withPeppers(`${fresh},${old}`);
      useAppContext(rotated);
      expect(await resealSealedValues(rotated)).toEqual({ webhookSecrets: 1, rotationReplies: 1 });
      expect(await resealSealedValues(rotated)).toEqual({ webhookSecrets: 0, rotationReplies: 0 });
      const row = await env.app.storage
        .table(TABLES.notificationSettings)
        .getEntity<{ webhookSecret: string }>('0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11', 'settings');
      expect(sealedVersion(row.webhookSecret)).toBe('2');
      // 2. The old version is retired: the retried rotation still gets its answer, not a second token or a 409.
      const retired = withPeppers(fresh);
      useAppContext(retired);
      const replay = await rotateWithKey();
      expect(replay.status, replay.text).toBe(200);
      expect(replay.body).toEqual(first.body);
      // Deliveries still sign with the organization's secret.
      received.length = 0;
      receiverMode = { failNext: 0, always: false };
      const message = notificationMessage(retired, {
        kind: 'token.leaked',
        organizationId: '0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11',
        organizationName: 'contoso',
        recipient: { userId: DAVE.id, email: DAVE.email },
        subject: 'after the rotation',
        body: 'A token of yours was found in public.',
        data: {},
      });
      await enqueueNotification(retired, message);
      await env.runtime.drainQueues();
      const delivery = received.find((item) => JSON.parse(item.body).id === message.id);
      expect(delivery).toBeDefined();
      expect(verifySignature(delivery!.body, delivery!.headers['x-gatehouse-signature'], webhookSecret)).toBe(true);
    } finally {
      // Back to the environment's own pepper for the tests that follow.
      await resealSealedValues(withPeppers(`${old},${fresh}`));
      useAppContext(env.app);
    }
  });

  it('retries a failing webhook and stores the notice once', async () => {
    received.length = 0;
    receiverMode = { failNext: 3, always: false };
    const message = notificationMessage(env.app, {
      kind: 'token.leaked',
      organizationId: '0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11',
      organizationName: 'contoso',
      recipient: { userId: DAVE.id, email: DAVE.email },
      subject: 'retry me',
      body: 'A token of yours was found in public.',
      data: {},
    });
    await enqueueNotification(env.app, message);
    await env.runtime.drainQueues();
    // Two attempts in the first invocation, the host retries the message, the fourth POST succeeds.
    expect(received.filter((delivery) => JSON.parse(delivery.body).id === message.id)).toHaveLength(4);
    const inbox = await listInbox('dave@contoso.com');
    expect(inbox.body.value.filter((notice: any) => notice.id === message.id)).toHaveLength(1);
  });

  it('moves a notice the webhook keeps refusing to the webhook poison queue after maxDequeueCount', async () => {
    received.length = 0;
    receiverMode = { failNext: 0, always: true };
    const message = notificationMessage(env.app, {
      kind: 'token.leaked',
      organizationId: '0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11',
      organizationName: 'contoso',
      recipient: { userId: DAVE.id },
      subject: 'poison me',
      body: 'Never accepted.',
      data: {},
    });
    await enqueueNotification(env.app, message);
    await env.runtime.drainQueues();
    receiverMode = { failNext: 0, always: false };
    expect(received).toHaveLength(4); // 2 invocations × 2 attempts
    const poison = env.app.storage.queue(poisonQueueName(QUEUES.webhooks));
    const peeked = await poison.peekMessages({ numberOfMessages: 32 });
    const texts = peeked.peekedMessageItems.map((item) => Buffer.from(item.messageText, 'base64').toString('utf8'));
    expect(texts.some((text) => JSON.parse(text).id === message.id)).toBe(true);
    // The inbox still has it (stored before the webhook was tried).
    const inbox = await listInbox('dave@contoso.com');
    expect(inbox.body.value.filter((notice: any) => notice.id === message.id)).toHaveLength(1);
  });
});

describe('inbox', () => {
  it('pages newest first with continuation tokens and marks notices read', async () => {
    await env.runtime.drainQueues();
    const all = await listInbox('alice@contoso.com', 'contoso', '&$top=100');
    expect(all.body.count).toBeGreaterThanOrEqual(4);
    const seen: string[] = [];
    let token: string | null = null;
    let pages = 0;
    do {
      const reply = await listInbox('alice@contoso.com', 'contoso', `&$top=2${token ? `&continuationToken=${token}` : ''}`);
      expect(reply.status).toBe(200);
      expect(reply.body.value.length).toBeLessThanOrEqual(2);
      seen.push(...reply.body.value.map((notice: any) => notice.id));
      token = reply.body.continuationToken;
      if (token) expect(reply.headers.get('x-ms-continuationtoken')).toBe(token);
      pages++;
    } while (token && pages < 50);
    expect(seen).toEqual(all.body.value.map((notice: any) => notice.id));
    const dates = all.body.value.map((notice: any) => Date.parse(notice.createdDate));
    expect([...dates].sort((x, y) => y - x)).toEqual(dates);

    const first = all.body.value[0];
    const marked = await asAlice.patch(`/contoso/_apis/notifications/${first.id}?${V}`, { isRead: true });
    expect(marked.status).toBe(200);
    expect(marked.body).toMatchObject({ id: first.id, isRead: true, readDate: env.clock.now().toISOString() });
    const unread = await listInbox('alice@contoso.com', 'contoso', '&$top=100&unreadOnly=true');
    expect(unread.body.value.map((notice: any) => notice.id)).not.toContain(first.id);
    expect(unread.body.count).toBe(all.body.count - 1);
    // Someone else cannot touch it; a forged continuation token is refused.
    const other = await asDave.patch(`/contoso/_apis/notifications/${first.id}?${V}`, { isRead: true });
    expect(other.status).toBe(404);
    expect(other.body.code).toBe('notificationNotFound');
    const forged = await listInbox('alice@contoso.com', 'contoso', '&continuationToken=bm9wZQ');
    expect(forged.status).toBe(400);
    expect(forged.body.code).toBe('invalidContinuationToken');
  });
});

describe('expirations.ics', () => {
  it('is a valid iCalendar feed of the caller’s token and key expiries', async () => {
    const name = 'cal, feed; token \\ with a rather long name that needs folding across lines ✓ ünïcödé';
    const pat = await createPat('dave@contoso.com', 'contoso', at(12 * DAY + 3 * HOUR), name);
    const other = await createPat('alice@contoso.com', 'contoso', at(12 * DAY));
    const key = await asDave.post('/contoso/_apis/tokens/sshkeys?api-version=7.1-preview.1', {
      displayName: 'build agent',
      publicData: opensshEd25519(),
      validTo: at(20 * DAY),
    });
    expect(key.status, JSON.stringify(key.body)).toBe(200);
    const reply = await asDave.get(`/contoso/_apis/tokens/pats/expirations.ics?${V}`);
    expect(reply.status).toBe(200);
    expect(reply.headers.get('content-type')).toMatch(/^text\/calendar/);
    const text: string = reply.text;
    expect(text.endsWith('\r\n')).toBe(true);
    expect(text.replace(/\r\n/g, '')).not.toMatch(/[\r\n]/);
    for (const line of text.split('\r\n')) expect(Buffer.byteLength(line, 'utf8')).toBeLessThanOrEqual(75);

    const calendar = new ICAL.Component(ICAL.parse(text));
    expect(calendar.getFirstPropertyValue('version')).toBe('2.0');
    expect(calendar.getFirstPropertyValue('prodid')).toContain('Gatehouse');
    const events = calendar.getAllSubcomponents('vevent').map((component) => new ICAL.Event(component));
    const event = events.find((candidate) => candidate.uid.includes(pat.authorizationId.toLowerCase()));
    expect(event).toBeDefined();
    expect(event!.summary).toContain(name);
    expect(event!.startDate.toJSDate().toISOString()).toBe(pat.validTo);
    expect(event!.startDate.zone?.tzid).toBe('UTC');
    expect(event!.component.getFirstPropertyValue('dtstamp')).toBeTruthy();
    expect(event!.description).toContain('PUT /contoso/_apis/tokens/pats');
    expect(event!.component.getAllSubcomponents('valarm').length).toBeGreaterThan(0);
    expect(events.some((candidate) => candidate.uid.includes(other.authorizationId.toLowerCase()))).toBe(false);
    const sshEvent = events.find((candidate) => candidate.uid.startsWith(`sshKey-${String(key.body.sshKey.authorizationId).toLowerCase()}`));
    expect(sshEvent?.summary).toContain('SSH key "build agent"');
    expect(sshEvent?.startDate.toJSDate().toISOString()).toBe(key.body.sshKey.validTo);

    // A calendar app can subscribe with a PAT scoped vso.tokens (Basic, as Azure DevOps clients send it).
    const readOnly = await createPat('dave@contoso.com', 'contoso', at(30 * DAY), 'calendar', 'vso.tokens');
    const basic = Buffer.from(`:${readOnly.token}`).toString('base64');
    const withPat = await api.withAuthorization(`Basic ${basic}`).get(`/contoso/_apis/tokens/pats/expirations.ics?${V}`);
    expect(withPat.status).toBe(200);
    expect(withPat.text).toContain(pat.authorizationId.toLowerCase());
    const wrongScope = await createPat('dave@contoso.com', 'contoso', at(30 * DAY), 'code-only', 'vso.code');
    const refused = await api
      .withAuthorization(`Basic ${Buffer.from(`:${wrongScope.token}`).toString('base64')}`)
      .get(`/contoso/_apis/tokens/pats/expirations.ics?${V}`);
    expect(refused.status).toBe(403);
    expect(ALICE.id).toBeTruthy();
  });
});
