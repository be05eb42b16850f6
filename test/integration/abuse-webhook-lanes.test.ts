import { randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import { enqueueNotification, notificationMessage } from '../../shared/notifications/messages.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { CONTOSO, DAVE } from '../helpers/demo.js';
import { createOrganization } from '../helpers/directory.js';

/**
 * One organization's administrator points its webhook at an endpoint that accepts connections and
 * never answers, and queues 40 notices. Another organization's leak notice must still reach its
 * owner's inbox and its own webhook promptly.
 */
let env: TestEnvironment;
const api = client(() => env);
let blackhole: Server;
let receiver: Server;
let blackholeConnections = 0;
const received = new Map<string, number>();
let abuser: { id: string; name: string };
const V = 'api-version=7.1';

const urlOf = (server: Server, path: string) => `http://127.0.0.1:${(server.address() as AddressInfo).port}${path}`;

beforeAll(async () => {
  blackhole = createServer(() => undefined);
  blackhole.on('connection', () => (blackholeConnections += 1));
  receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      received.set(JSON.parse(Buffer.concat(chunks).toString('utf8')).id as string, Date.now());
      res.writeHead(204).end();
    });
  });
  await Promise.all([blackhole, receiver].map((server) => new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))));
  env = await startTestEnvironment({
    triggers: true,
    host: { maxPollingIntervalMs: 200 },
    declarations: declarations.filter((declaration) => declaration.name !== 'lifecycle'),
    settings: { NOTIFICATION_WEBHOOK_TIMEOUT_MS: '1000', NOTIFICATION_WEBHOOK_ATTEMPTS: '3', NOTIFICATION_WEBHOOK_RETRY_DELAY_MS: '500' },
  });
  abuser = await createOrganization(env, 'erin@fabrikam.com', 'blackhole-org');
  const mallory = await env.userToken('erin@fabrikam.com');
  const alice = await env.userToken('alice@contoso.com');
  const set = (organization: string, token: string, url: string) =>
    api.as(token).put(`/${organization}/_apis/notifications/webhook?${V}`, { url, secret: 'a-secret-of-at-least-16' });
  expect((await set('blackhole-org', mallory, urlOf(blackhole, '/hook'))).status).toBe(200);
  expect((await set('contoso', alice, urlOf(receiver, '/hook'))).status).toBe(200);
}, 60_000);
afterAll(async () => {
  await env?.stop();
  for (const server of [blackhole, receiver]) {
    server?.closeAllConnections();
    await new Promise<void>((resolve) => server?.close(() => resolve()));
  }
});

async function waitFor<T>(probe: () => Promise<T | undefined>, timeoutMs: number): Promise<T | undefined> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    const found = await probe();
    if (found !== undefined) return found;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  return undefined;
}

describe('webhook deliveries are isolated per organization', () => {
  it("delivers another organization's notice to its inbox and webhook while a blackholed endpoint has 40 queued", async () => {
    for (let index = 0; index < 40; index += 1) {
      await enqueueNotification(
        env.app,
        notificationMessage(env.app, {
          kind: 'token.expiring',
          organizationId: abuser.id,
          organizationName: abuser.name,
          recipient: { userId: randomUUID() },
          subject: `junk ${index}`,
          body: 'junk',
          data: {},
        }),
      );
    }
    // Let the blackholed notices take the workers first, as they would.
    await waitFor(async () => (blackholeConnections > 0 ? true : undefined), 5000);
    const started = Date.now();
    const leak = notificationMessage(env.app, {
      kind: 'token.leaked',
      organizationId: CONTOSO,
      organizationName: 'contoso',
      recipient: { userId: DAVE.id, email: DAVE.email },
      subject: 'A token of yours was found in public',
      body: 'Revoke it.',
      data: {},
    });
    await enqueueNotification(env.app, leak);
    const dave = await env.userToken('dave@contoso.com');
    const inboxAt = await waitFor(async () => {
      const inbox = await api.as(dave).get(`/contoso/_apis/notifications?${V}`);
      return inbox.body?.value?.some((notice: { id: string }) => notice.id === leak.id) ? Date.now() : undefined;
    }, 15_000);
    const webhookAt = await waitFor(async () => received.get(leak.id), 15_000);
    expect(inboxAt, 'the notice reached the inbox').toBeDefined();
    expect(webhookAt, 'the notice reached its webhook').toBeDefined();
    // One worker hold of a blackholed delivery is 3 × 1 s + back-off; the victim waits for none of them.
    expect(inboxAt! - started).toBeLessThan(2500);
    expect(webhookAt! - started).toBeLessThan(2500);
    // The abuser's lane ran at most two at a time until its breaker paused the endpoint: deliveries
    // enter until the third failure (3 failures + the other lane slot still running), each making a
    // connection per attempt (3). Without the lane, the 40 notices would open 40 connections at once.
    const { webhookBreakerFailures, webhookLaneConcurrency, webhookAttempts } = env.app.config.lifecycle;
    expect(blackholeConnections).toBeLessThanOrEqual((webhookBreakerFailures + webhookLaneConcurrency - 1) * webhookAttempts);
  }, 60_000);
});
