import { execFileSync } from 'node:child_process';
import { randomUUID } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer as createHttpServer, type IncomingMessage } from 'node:http';
import { Agent as HttpsAgent, createServer as createHttpsServer, request as httpsRequest } from 'node:https';
import { connect, type AddressInfo, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Duplex } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableClient } from '@azure/data-tables';
import type { PipelinePolicy } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import { decodeJwt, UnsecuredJWT } from 'jose';
import { startAzurite, type AzuriteInstance } from '../../local/azurite.js';
import { readEntity } from '../../shared/storage/entities.js';
import { isStorageUnavailable, restErrorStatus, toAppError } from '../../shared/http/errors.js';
import { AZURITE_ACCOUNT, azuriteConnectionString } from '../../shared/storage/clients.js';

/**
 * Point reads skip the SDK's generated client (shared/storage/entities.ts): what they answer must be
 * what `getEntity` answers, for every property type and for keys that need escaping, and failures
 * must keep the shape the error mapping relies on (404 → undefined, others → RestError with status).
 * Locally that is shared-key HTTP; in Azure it is HTTPS with an Entra token, sometimes through a
 * proxy, so both are checked.
 */
let azurite: AzuriteInstance;
let table: TableClient;
const client = (connectionString: string, name: string) => TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });

// The proxy below is on loopback, which a developer's NO_PROXY often lists; the SDK reads it once,
// when the first client is made.
delete process.env.NO_PROXY;
delete process.env.no_proxy;

beforeAll(async () => {
  azurite = await startAzurite({});
  table = client(azurite.connectionString, 'pointreads');
  await table.createTable();
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
});

/** An entity with a property of every type the Table service stores. */
const everyPropertyType = (partitionKey: string, rowKey: string) => ({
  partitionKey,
  rowKey,
  text: 'hello',
  empty: '',
  flag: true,
  count: 42,
  ratio: 1.5,
  big: { value: '9007199254740993', type: 'Int64' as const },
  when: new Date('2026-01-02T03:04:05.678Z'),
  id: { value: '6f1e5b1c-3a3e-4a8e-9d2b-1f0c2d3e4f50', type: 'Guid' as const },
  bytes: new Uint8Array([0, 1, 2, 254, 255]),
  json: JSON.stringify({ a: [1, 2] }),
});

/** What the SDK's getEntity answers, less the OData metadata URL it keeps. */
async function viaGetEntity(from: TableClient, partitionKey: string, rowKey: string): Promise<Record<string, unknown>> {
  const expected: Record<string, unknown> = { ...(await from.getEntity(partitionKey, rowKey)) };
  delete expected['odata.metadata'];
  return expected;
}

describe('point reads', () => {
  it('answer what getEntity answers, for every property type and escaped keys', async () => {
    const keys = [
      ['plain', 'row'],
      ["o'brien", "it's"],
      ['with space', 'percent%25 and | pipe'],
      ['ünïcødé', 'emoji 🎉'],
    ] as const;
    for (const [partitionKey, rowKey] of keys) {
      await table.createEntity(everyPropertyType(partitionKey, rowKey));
      const expected = await viaGetEntity(table, partitionKey, rowKey);
      const actual = await readEntity(table, partitionKey, rowKey);
      expect(actual).toEqual(expected);
      expect(actual?.etag).toMatch(/^W\/"datetime'/);
      expect(typeof (actual as Record<string, unknown>).big).toBe('bigint');
      expect((actual as Record<string, unknown>).when).toBeInstanceOf(Date);
    }
  });

  it('answer undefined for a missing entity or table', async () => {
    expect(await readEntity(table, 'plain', 'nothing here')).toBeUndefined();
    expect(await readEntity(client(azurite.connectionString, 'nosuchtable'), 'p', 'r')).toBeUndefined();
  });

  it('throw a RestError with the status for other answers', async () => {
    const wrongKey = azuriteConnectionString(azurite.host, azurite.ports).replace(
      /AccountKey=[^;]+/,
      `AccountKey=${Buffer.from('not the key').toString('base64')}`,
    );
    const error = await readEntity(client(wrongKey, 'pointreads'), 'plain', 'row').catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'RestError' });
    expect(restErrorStatus(error)).toBe(403);
    expect(isStorageUnavailable(error)).toBe(false);
  });

  it('fail as storage unavailable when storage cannot be reached', async () => {
    const gone = azuriteConnectionString('127.0.0.1', { blob: 1, queue: 1, table: 1 });
    const error = await readEntity(client(gone, 'pointreads'), 'plain', 'row').catch((caught: unknown) => caught);
    expect(isStorageUnavailable(error)).toBe(true);
  }, 30_000);
});

/**
 * Azure Storage as Gatehouse meets it in Azure: HTTPS, bearer tokens from a token credential, maybe a
 * proxy. A throwaway certificate is trusted through the clients' own options, nothing process-wide;
 * Azurite's `--oauth basic` checks a token's issuer, audience and lifetime, not its signature.
 */
describe('point reads over HTTPS with a bearer token', () => {
  const HOME_TENANT = randomUUID();
  const STORAGE_TENANT = randomUUID();
  const name = 'securereads';
  let secure: AzuriteInstance;
  let certificates: string;
  let tls: { cert: string; key: string };
  let trusting: HttpsAgent;
  const closers: (() => Promise<void>)[] = [];

  beforeAll(async () => {
    certificates = mkdtempSync(join(tmpdir(), 'gatehouse-tls-'));
    const https = selfSignedCertificate(certificates);
    tls = { cert: readFileSync(https.certPath, 'utf8'), key: readFileSync(https.keyPath, 'utf8') };
    trusting = new HttpsAgent({ ca: tls.cert, keepAlive: true });
    secure = await startAzurite({ https, oauth: 'basic' });
    const writer = new TableClient(secure.endpoints.table, name, entraCredential(), { agent: trusting });
    await writer.createTable();
    await writer.createEntity(everyPropertyType('tls', 'row'));
  }, 60_000);
  afterAll(async () => {
    for (const close of closers) await close();
    trusting?.destroy();
    await secure?.stop();
    if (certificates) rmSync(certificates, { recursive: true, force: true });
  });

  /** Tokens shaped as Entra ID issues them for the scope asked (`tenantId` as a challenge asks), unsigned. */
  function entraCredential(claims: { audience?: string; expired?: boolean } = {}): TokenCredential & { tenantsAsked: (string | undefined)[] } {
    const tenantsAsked: (string | undefined)[] = [];
    return {
      tenantsAsked,
      getToken: (scopes, options) => {
        tenantsAsked.push(options?.tenantId);
        const tenant = options?.tenantId ?? HOME_TENANT;
        const now = Math.floor(Date.now() / 1000);
        const [from, until] = claims.expired ? [now - 3600, now - 600] : [now - 60, now + 3600];
        const token = new UnsecuredJWT({ tid: tenant })
          .setIssuer(`https://sts.windows.net/${tenant}/`)
          .setAudience(claims.audience ?? String([scopes].flat()[0]).replace(/\/\.default$/, ''))
          .setIssuedAt(from)
          .setNotBefore(from)
          .setExpirationTime(until)
          .encode();
        // The credential believes its token good for an hour (a stale cache, a skewed clock): storage decides.
        return Promise.resolve({ token, expiresOnTimestamp: Date.now() + 3_600_000 });
      },
    };
  }

  it('answer what getEntity answers, and undefined for a missing entity', async () => {
    const reader = new TableClient(secure.endpoints.table, name, entraCredential(), { agent: trusting });
    const expected = await viaGetEntity(reader, 'tls', 'row');
    expect(await readEntity(reader, 'tls', 'row')).toEqual(expected);
    expect(await readEntity(reader, 'tls', 'no such row')).toBeUndefined();
  });

  it('fail with the status when storage refuses the token (wrong audience, expired), as getEntity does', async () => {
    for (const credential of [entraCredential({ audience: 'https://vault.azure.net' }), entraCredential({ expired: true })]) {
      const reader = new TableClient(secure.endpoints.table, name, credential, { agent: trusting });
      const refused = await reader.getEntity('tls', 'row').catch((caught: unknown) => caught);
      const error = await readEntity(reader, 'tls', 'row').catch((caught: unknown) => caught);
      expect(error).toMatchObject({ name: 'RestError', statusCode: 403, code: 'AuthenticationFailed' });
      expect(restErrorStatus(error)).toBe(restErrorStatus(refused));
      // Not an outage (no 503 and retry): a server that cannot authenticate to its storage is a 500.
      expect(isStorageUnavailable(error)).toBe(false);
      expect(toAppError(error)).toMatchObject({ status: 500, code: 'internalError' });
    }
  });

  it("follow storage's tenant challenge, as getEntity does", async () => {
    const front = await tenantChallengingFront();
    const credential = entraCredential();
    const reader = new TableClient(front.url, name, credential, { agent: trusting });
    const expected = await viaGetEntity(reader, 'tls', 'row');
    const challengesBefore = front.challenges;
    credential.tenantsAsked.length = 0;
    expect(await readEntity(reader, 'tls', 'row')).toEqual(expected);
    expect(front.challenges - challengesBefore).toBe(1);
    expect(credential.tenantsAsked).toEqual([undefined, STORAGE_TENANT]);
  });

  it("honour the client's TLS options, as getEntity does", async () => {
    const reader = new TableClient(secure.endpoints.table, name, entraCredential(), { tlsOptions: { ca: tls.cert } });
    const expected = await viaGetEntity(reader, 'tls', 'row');
    expect(await readEntity(reader, 'tls', 'row')).toEqual(expected);
  });

  it("go through the client's proxy", async () => {
    const proxy = await connectProxy();
    const reader = new TableClient(secure.endpoints.table, name, entraCredential(), { proxyOptions: { host: 'http://127.0.0.1', port: proxy.port } });
    reader.pipeline.addPolicy(trustOnChosenAgent(tls.cert), { afterPolicies: ['proxyPolicy'] });
    const expected = await viaGetEntity(reader, 'tls', 'row');
    expect(proxy.tunnels).toEqual([`127.0.0.1:${secure.ports.table}`]);
    proxy.tunnels.length = 0;
    expect(await readEntity(reader, 'tls', 'row')).toEqual(expected);
    expect(proxy.tunnels).toEqual([`127.0.0.1:${secure.ports.table}`]);
  });

  /**
   * In front of Azurite, answers as Azure Storage answers a token from another tenant than the
   * account's: 401 with a bearer challenge naming the account's tenant; other requests pass through.
   */
  async function tenantChallengingFront(): Promise<{ url: string; challenges: number }> {
    const front = { url: '', challenges: 0 };
    const server = createHttpsServer(tls, (request, response) => {
      const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1];
      if (!token || decodeJwt(token).tid !== STORAGE_TENANT) {
        front.challenges++;
        request.resume();
        response.writeHead(401, {
          'WWW-Authenticate': `Bearer authorization_uri=https://login.microsoftonline.com/${STORAGE_TENANT}/oauth2/authorize resource_id=https://storage.azure.com`,
          'x-ms-error-code': 'InvalidAuthenticationInfo',
          'Content-Type': 'application/json',
        });
        response.end(JSON.stringify({ 'odata.error': { code: 'InvalidAuthenticationInfo', message: { lang: 'en-US', value: 'Issuer validation failed.' } } }));
        return;
      }
      const upstream = httpsRequest(
        { host: secure.host, port: secure.ports.table, method: request.method, path: request.url, headers: request.headers, ca: tls.cert },
        (answer) => {
          response.writeHead(answer.statusCode ?? 502, answer.headers);
          answer.pipe(response);
        },
      );
      upstream.on('error', () => response.destroy());
      request.pipe(upstream);
    });
    const port = await listen(server);
    closers.push(() => close(server, () => server.closeAllConnections()));
    front.url = `https://127.0.0.1:${port}/${AZURITE_ACCOUNT}`;
    return front;
  }

  /** An HTTP CONNECT proxy that records the target of every tunnel it opens. */
  async function connectProxy(): Promise<{ port: number; tunnels: string[] }> {
    const tunnels: string[] = [];
    const sockets = new Set<Duplex>();
    const server = createHttpServer();
    server.on('connect', (request: IncomingMessage, downstream: Duplex, head: Buffer) => {
      const target = request.url ?? '';
      tunnels.push(target);
      const separator = target.lastIndexOf(':');
      const upstream = connect(Number(target.slice(separator + 1)), target.slice(0, separator), () => {
        downstream.write('HTTP/1.1 200 Connection Established\r\n\r\n');
        upstream.write(head);
        upstream.pipe(downstream);
        downstream.pipe(upstream);
      });
      for (const socket of [upstream, downstream]) {
        sockets.add(socket);
        socket.on('close', () => sockets.delete(socket));
        socket.on('error', () => {
          upstream.destroy();
          downstream.destroy();
        });
      }
    });
    const port = await listen(server);
    closers.push(() => close(server, () => sockets.forEach((socket) => socket.destroy())));
    return { port, tunnels };
  }
});

/** A throwaway self-signed certificate for 127.0.0.1 and localhost. */
function selfSignedCertificate(directory: string): { certPath: string; keyPath: string } {
  const [certPath, keyPath] = [join(directory, 'cert.pem'), join(directory, 'key.pem')];
  execFileSync(
    'openssl',
    ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-days', '1', '-subj', '/CN=localhost'].concat([
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      keyPath,
      '-out',
      certPath,
    ]),
    { stdio: 'ignore' },
  );
  return { certPath, keyPath };
}

/**
 * The SDK's proxy agent takes no TLS options (it ignores `tlsOptions` when proxying), so the test
 * certificate is trusted on the agent the pipeline chose: Node merges an agent's options into each
 * request's, and the tunnelled TLS connection to storage takes `ca` from them.
 */
function trustOnChosenAgent(ca: string): PipelinePolicy {
  return {
    name: 'trustTestCertificate',
    sendRequest: (request, next) => {
      const agent = request.agent as unknown as { options: Record<string, unknown> } | undefined;
      if (agent) agent.options.ca = ca;
      return next(request);
    },
  };
}

const listen = (server: Server) => new Promise<number>((resolve) => server.listen(0, '127.0.0.1', () => resolve((server.address() as AddressInfo).port)));

const close = (server: Server, dropConnections: () => void) =>
  new Promise<void>((resolve) => {
    server.close(() => resolve());
    dropConnections();
  });
