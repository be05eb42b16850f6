import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { guardedFetch, OutboundRefused, OutboundResponseTooLarge, blockedAddressReason } from '../../shared/http/outbound.js';
import { notificationMessage } from '../../shared/notifications/messages.js';
import { TABLES } from '../../shared/storage/names.js';
import { createAppContext } from '../../shared/app-context.js';
import { loadConfig } from '../../shared/config.js';

/**
 * Server-side request forgery, written as the attack: a signed-in outsider creates an organization
 * and points its webhook (or anything else Gatehouse calls) at internal addresses. Loopback listeners
 * stand in for internal services. Only `127.0.0.1` is a named exception here (development setting),
 * so `localhost`, other loopback spellings and private ranges must all be refused.
 */

let env: TestEnvironment;
const api = client(() => env);
let internal: Listener;
let exception: Listener;
const V = 'api-version=7.1';
/** A fresh account with no membership anywhere: signing in is all it takes. */
const MALLORY = '3a110000-0000-4000-8000-0000000000aa';

interface Listener {
  server: Server;
  port: number;
  hits: string[];
}

async function listen(answer: (req: IncomingMessage, res: ServerResponse) => void = (_req, res) => res.writeHead(204).end()): Promise<Listener> {
  const hits: string[] = [];
  const server = createServer((req, res) => {
    hits.push(`${req.method} ${req.url}`);
    req.resume();
    answer(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { server, port: (server.address() as AddressInfo).port, hits };
}

beforeAll(async () => {
  internal = await listen();
  exception = await listen((req, res) => {
    if (req.url?.startsWith('/redirect')) res.writeHead(302, { location: `http://localhost:${internal.port}/stolen` }).end();
    else if (req.url?.startsWith('/huge')) res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(Buffer.alloc(256 * 1024, 1));
    else res.writeHead(204).end();
  });
  env = await startTestEnvironment({
    settings: {
      OUTBOUND_ALLOWED_PRIVATE_HOSTS: '127.0.0.1',
      NOTIFICATION_WEBHOOK_ATTEMPTS: '3',
      NOTIFICATION_WEBHOOK_RETRY_DELAY_MS: '10',
      NOTIFICATION_WEBHOOK_TIMEOUT_MS: '2000',
      NPM_UPSTREAM_URL: 'http://localhost:1/',
    },
  });
}, 120_000);

afterAll(async () => {
  await env?.stop();
  for (const listener of [internal, exception]) await new Promise<void>((resolve) => listener?.server.close(() => resolve()));
});

async function outsiderOrganization(): Promise<{ token: string; name: string }> {
  const token = await env.userToken('mallory@outsider.example', { userId: MALLORY, displayName: 'Mallory' });
  const name = `mallory-${Date.now().toString(36)}`;
  const created = await api.as(token).post(`/_apis/organizations?${V}`, { name, description: 'ssrf' });
  expect(created.status, created.text).toBe(201);
  return { token, name };
}

describe('webhooks cannot reach internal addresses', () => {
  it('refuses webhook URLs that name or resolve to loopback, private, link-local, CGNAT, multicast and metadata addresses', async () => {
    const { token, name } = await outsiderOrganization();
    const p = internal.port;
    const refused = [
      'https://169.254.169.254/latest/meta-data/iam/security-credentials/',
      'https://[fd00:ec2::254]/latest/meta-data/',
      'https://168.63.129.16/machine?comp=goalstate',
      'https://10.0.0.1/hook',
      'https://172.16.5.4/hook',
      'https://192.168.1.1/hook',
      'https://100.64.0.1/hook',
      'https://224.0.0.1/hook',
      `https://127.0.0.2:${p}/hook`,
      `https://[::1]:${p}/hook`,
      `https://[::ffff:127.0.0.1]:${p}/hook`,
      `https://[::ffff:7f00:1]:${p}/hook`,
      // Decimal, hex and short IPv4 forms (127.0.0.2, 169.254.169.254, 10.0.0.1); 127.0.0.1 itself is this run's named exception.
      `https://2130706434:${p}/hook`,
      'https://0xa9fea9fe/latest/meta-data/',
      'https://167772161/hook',
      `https://127.2:${p}/hook`,
      `https://[fe80::1]:${p}/hook`,
      `https://[64:ff9b::7f00:1]:${p}/hook`,
      `https://localhost:${p}/hook`,
    ];
    for (const url of refused) {
      const reply = await api.as(token).put(`/${name}/_apis/notifications/webhook?${V}`, { url });
      expect(reply.status, url).toBe(400);
      expect(reply.body.code, url).toBe('invalidWebhookUrl');
    }
    const settings = await api.as(token).get(`/${name}/_apis/notifications/settings?${V}`);
    expect(settings.body.webhook).toBeNull();
    expect(internal.hits).toEqual([]);
  });

  it('delivers through the named development exception, and refuses at delivery a stored URL that now resolves inside (no retries reach it)', async () => {
    const { token, name } = await outsiderOrganization();
    const allowed = await api
      .as(token)
      .put(`/${name}/_apis/notifications/webhook?${V}`, { url: `http://127.0.0.1:${exception.port}/hook`, secret: 'a-secret-of-at-least-16' });
    expect(allowed.status, allowed.text).toBe(200);
    const organization = (await env.app.directory.getOrganizationByName(name))!;
    const message = () =>
      notificationMessage(env.app, {
        kind: 'token.expiring',
        organizationId: organization.id,
        organizationName: organization.name,
        recipient: { userId: randomUUID() },
        subject: 'hello',
        body: 'hello',
        data: {},
      });
    await env.runtime.invoke('webhook-sender', message());
    expect(exception.hits).toEqual(['POST /hook']);

    // The row as a change of DNS (or a row written before this check existed) would leave it.
    await env.app.storage
      .table(TABLES.notificationSettings)
      .updateEntity({ partitionKey: organization.id, rowKey: 'settings', webhookUrl: `http://localhost:${internal.port}/hook` }, 'Merge');
    await expect(env.runtime.invoke('webhook-sender', message())).rejects.toThrow(/refused/);
    expect(internal.hits).toEqual([]);

    // A redirect from an allowed host to an internal one is not followed.
    await env.app.storage
      .table(TABLES.notificationSettings)
      .updateEntity({ partitionKey: organization.id, rowKey: 'settings', webhookUrl: `http://127.0.0.1:${exception.port}/redirect` }, 'Merge');
    await expect(env.runtime.invoke('webhook-sender', message())).rejects.toThrow(/302/);
    expect(internal.hits).toEqual([]);
  });
});

describe('the guarded client', () => {
  it('refuses internal destinations before connecting, caps the response size and classifies every address form', async () => {
    await expect(guardedFetch(env.app, `http://localhost:${internal.port}/x`, { timeoutMs: 1000, maxResponseBytes: 1024 })).rejects.toBeInstanceOf(
      OutboundRefused,
    );
    await expect(guardedFetch(env.app, `ftp://127.0.0.1:${internal.port}/x`, { timeoutMs: 1000, maxResponseBytes: 1024 })).rejects.toBeInstanceOf(
      OutboundRefused,
    );
    expect(internal.hits).toEqual([]);

    const huge = await guardedFetch(env.app, `http://127.0.0.1:${exception.port}/huge`, { timeoutMs: 2000, maxResponseBytes: 1024 });
    await expect(huge.arrayBuffer()).rejects.toBeInstanceOf(OutboundResponseTooLarge);

    for (const address of [
      '127.0.0.1',
      '10.1.2.3',
      '169.254.169.254',
      '100.100.1.1',
      '0.0.0.0',
      '255.255.255.255',
      '::',
      '::1',
      '::ffff:10.0.0.1',
      'fc00::1',
      'ff02::1',
      '2002:7f00:1::',
    ]) {
      expect(blockedAddressReason(address), address).toBeDefined();
    }
    for (const address of ['8.8.8.8', '140.82.112.3', '2606:4700:4700::1111']) expect(blockedAddressReason(address), address).toBeUndefined();
  });

  it('is what the npm upstream goes through: an upstream on an internal address is a 502 upstreamRefused', async () => {
    const token = await env.userToken('alice@contoso.com', { scopes: ['vso.packaging_manage'] });
    const feed = await api.as(token).post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'ssrf-feed', upstreamSources: [{ upstreamSourceType: 'public' }] });
    expect(feed.status, feed.text).toBe(201);
    const read = await api.as(token).get('/contoso/_packaging/ssrf-feed/npm/registry/left-pad');
    expect(read.status, read.text).toBe(502);
    expect(read.body.code).toBe('upstreamRefused');
  });
});

describe('the signing keys of caller tokens come through the guarded client too', () => {
  it('fetches a JWKS from an allowed host, and never from a private one', async () => {
    const keys = await listen((_req, res) => res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(env.signingKey.publicJwks)));
    try {
      const { AUTH_JWKS: _inline, ...settings } = env.settings;
      const verifierAt = (url: string) =>
        createAppContext(loadConfig({ ...settings, AUTH_JWKS_URI: url, CHANGE_FEED_POLL_MS: '0' }), { clock: env.clock, log: env.app.log });
      const token = await env.userToken('alice@contoso.com');
      const allowed = verifierAt(`http://127.0.0.1:${keys.port}/keys`);
      expect((await allowed.verifyJwt(token))?.oid).toBe('a11ce000-0000-4000-8000-00000000000a');
      expect(keys.hits).toEqual(['GET /keys']);
      // `localhost` is not a named exception here: the keys are never fetched, so no token verifies.
      const refused = verifierAt(`http://localhost:${keys.port}/other-keys`);
      expect(await refused.verifyJwt(token)).toBeUndefined();
      expect(keys.hits).toEqual(['GET /keys']);
    } finally {
      await new Promise<void>((resolve) => keys.server.close(() => resolve()));
    }
  });
});
