import { createHash, randomUUID } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { connect } from 'node:net';
import type { AddressInfo } from 'node:net';
import { QueueClient } from '@azure/storage-queue';
import { benchUserToken, fmt, median, round } from '../lib.js';
import { QUEUES } from '../../shared/storage/names.js';
import { encodeQueueMessage } from '../../shared/storage/queue.js';
import { expectStatus, ratioText, startGatehouse, withAzurite, withChild, type Row, type Scenario } from './common.js';

/**
 * P8: one tenant cannot slow another.
 * - Notification lanes: a notice's latency (queued → its organization's webhook has it) while another
 *   organization's webhook accepts connections and never answers, with 40 of its notices queued,
 *   against the same latency without them.
 * - Fan-out: one npm read over a dense graph of internal upstream feeds (3 layers of 3, every feed
 *   upstreaming to every feed below it) against a read through one feed; and the public registry
 *   calls the graph read makes.
 * - Memory: the Gatehouse process's peak RSS growth while refused publishes arrive (one over the
 *   publish limit, one of 60 MB from a caller who may not publish).
 */

const V = 'api-version=7.1';
const CONTOSO = '0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11';
const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

const listen = async (server: Server) => {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
};
const close = (server: Server) =>
  new Promise<void>((resolve) => {
    server.closeAllConnections();
    server.close(() => resolve());
  });

async function call(url: string, method: string, path: string, token: string, body?: unknown, status = 200): Promise<unknown> {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  await expectStatus(response, status, `${method} ${path}`);
  const text = await response.text();
  return text ? (JSON.parse(text) as unknown) : undefined;
}

/** A public registry with one package, counting package document requests. */
function fakeRegistry(): { server: Server; packumentCalls: () => number; reset(): void } {
  const tarball = Buffer.from('not really a tarball');
  let calls = 0;
  const server = createServer((req, res) => {
    const origin = `http://${req.headers.host}`;
    if (req.url?.includes('/-/')) return void res.writeHead(200, { 'content-type': 'application/octet-stream' }).end(tarball);
    calls += 1;
    res.writeHead(200, { 'content-type': 'application/json' }).end(
      JSON.stringify({
        _id: 'fanout-lib',
        name: 'fanout-lib',
        'dist-tags': { latest: '1.0.0' },
        versions: {
          '1.0.0': {
            name: 'fanout-lib',
            version: '1.0.0',
            dist: { tarball: `${origin}/fanout-lib/-/fanout-lib-1.0.0.tgz`, shasum: createHash('sha1').update(tarball).digest('hex') },
          },
        },
      }),
    );
  });
  return { server, packumentCalls: () => calls, reset: () => (calls = 0) };
}

/**
 * Sends `size` bytes in 1 MiB chunks (one reused buffer) with a declared length over a raw socket, and
 * answers the response's status: a server that refuses early answers and closes while the body is
 * still being sent, which an HTTP client library reports as a write error instead of the answer.
 */
function sendLarge(url: string, path: string, token: string, size: number): Promise<number | 'reset'> {
  const target = new URL(path, url);
  return new Promise((resolve, reject) => {
    const chunk = Buffer.alloc(MiB, 'A');
    const socket = connect(Number(target.port), target.hostname);
    let received = '';
    let closed = false;
    socket.setEncoding('utf8');
    socket.on('data', (data: string) => (received += data));
    let resetBeforeAnswer = false;
    socket.on('error', (error: NodeJS.ErrnoException) => {
      if (error.code === 'ECONNRESET' || error.code === 'EPIPE') resetBeforeAnswer = true;
    });
    socket.on('close', () => {
      closed = true;
      const status = /^HTTP\/1\.1 (\d{3})/.exec(received)?.[1];
      if (status) resolve(Number(status));
      // A server that answers and closes while the body is still arriving resets the connection, and a
      // reset can discard the answer before this side reads it: the refusal happened, its text is lost.
      else if (resetBeforeAnswer) resolve('reset');
      else reject(new Error(`no answer to the publish of ${size} bytes`));
    });
    socket.on('connect', () => {
      socket.write(
        `PUT ${target.pathname} HTTP/1.1\r\nHost: ${target.host}\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${size}\r\nConnection: close\r\n\r\n`,
      );
      void (async () => {
        for (let sent = 0; sent < size && !closed && received === '';) {
          const piece = size - sent >= MiB ? chunk : chunk.subarray(0, size - sent);
          sent += piece.length;
          if (!socket.write(piece)) await new Promise((resume) => socket.once('drain', resume).once('close', resume));
        }
        // Whether refused early or read whole, the answer ends the exchange.
        if (received !== '') socket.end();
      })();
    });
  });
}

export const isolationScenario: Scenario = async (ctx) => {
  const registry = fakeRegistry();
  const registryUrl = await listen(registry.server);
  const blackhole = createServer(() => undefined);
  const blackholeUrl = await listen(blackhole);
  const arrivals = new Map<string, number>();
  const receiver = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      arrivals.set((JSON.parse(Buffer.concat(chunks).toString('utf8')) as { id: string }).id, performance.now());
      res.writeHead(204).end();
    });
  });
  const receiverUrl = await listen(receiver);
  try {
    return await withAzurite((azurite) =>
      withChild(
        startGatehouse(ctx, azurite.connectionString, {
          BENCH_TRIGGERS: '1',
          ALLOW_HTTP_WEBHOOKS_FOR_LOCALHOST: 'true',
          OUTBOUND_ALLOWED_PRIVATE_HOSTS: '127.0.0.1',
          NPM_UPSTREAM_URL: `${registryUrl}/`,
          NOTIFICATION_WEBHOOK_TIMEOUT_MS: '2000',
          RATE_LIMIT_WRITES_PER_MINUTE: '0',
        }),
        async (gatehouse) => {
          const url = gatehouse.url;
          const alice = await benchUserToken(ctx.secrets);
          const erin = await benchUserToken(ctx.secrets, 'erin@fabrikam.com');
          const queue = new QueueClient(azurite.connectionString, QUEUES.notifications);

          // ---- notification lanes ----
          const abuser = (await call(url, 'POST', `/_apis/organizations?${V}`, erin, { name: 'blackhole-org' }, 201)) as { id: string };
          await call(url, 'PUT', `/blackhole-org/_apis/notifications/webhook?${V}`, erin, { url: `${blackholeUrl}/hook`, secret: 'a-secret-of-at-least-16' });
          await call(url, 'PUT', `/contoso/_apis/notifications/webhook?${V}`, alice, { url: `${receiverUrl}/hook`, secret: 'a-secret-of-at-least-16' });
          const notice = (organizationId: string, organizationName: string) => ({
            id: randomUUID(),
            schemaVersion: 1,
            kind: 'token.leaked',
            organizationId,
            organizationName,
            recipient: { userId: randomUUID() },
            subject: 'A token was found in public',
            body: 'Revoke it.',
            data: {},
            createdAt: new Date().toISOString(),
          });
          const victimLatency = async () => {
            const message = notice(CONTOSO, 'contoso');
            const started = performance.now();
            await queue.sendMessage(encodeQueueMessage(message));
            for (let waited = 0; !arrivals.has(message.id) && waited < 60_000; waited += 20) await sleep(20);
            const arrived = arrivals.get(message.id);
            if (arrived === undefined) throw new Error('the victim notice never reached its webhook');
            return arrived - started;
          };
          const samples = ctx.quick ? 3 : 7;
          const quiet: number[] = [];
          for (let i = 0; i < samples; i++) quiet.push(await victimLatency());
          for (let i = 0; i < 40; i++) await queue.sendMessage(encodeQueueMessage(notice(abuser.id, 'blackhole-org')));
          await sleep(500);
          const noisy: number[] = [];
          for (let i = 0; i < samples; i++) noisy.push(await victimLatency());
          const quietMs = median(quiet);
          const noisyMs = median(noisy);
          ctx.log(`P8 lanes: victim latency ${fmt(quietMs, 'ms')} quiet, ${fmt(noisyMs, 'ms')} with a blackholed organization`);

          // ---- fan-out ----
          const packaging = await benchUserToken(ctx.secrets, 'alice@contoso.com', ['vso.packaging_manage']);
          const feed = (name: string, upstreams?: string[]) =>
            call(
              url,
              'POST',
              `/contoso/_apis/packaging/feeds?${V}`,
              packaging,
              {
                name,
                ...(upstreams ? { upstreamSources: upstreams.map((id) => ({ upstreamSourceType: 'internal', internalUpstreamFeedId: id })) } : {}),
              },
              201,
            );
          const layers = ['c', 'b', 'a'];
          let below: string[] | undefined;
          for (const layer of layers) {
            const names = [0, 1, 2].map((i) => `${layer}${i}`);
            for (const name of names) await feed(name, below);
            below = names;
          }
          await feed('top', below);
          const read = async (feedName: string) => {
            const started = performance.now();
            await call(url, 'GET', `/contoso/_packaging/${feedName}/npm/registry/fanout-lib`, packaging);
            return performance.now() - started;
          };
          await read('c0');
          await read('top');
          const single: number[] = [];
          const graph: number[] = [];
          for (let i = 0; i < (ctx.quick ? 5 : 15); i++) {
            single.push(await read('c0'));
            registry.reset();
            graph.push(await read('top'));
          }
          const graphCalls = registry.packumentCalls();
          const singleMs = median(single);
          const graphMs = median(graph);

          // ---- memory of refused publishes ----
          const reader = await benchUserToken(ctx.secrets, 'dave@contoso.com', ['vso.packaging']);
          await call(url, 'GET', `/contoso/_packaging/c0/npm/registry/fanout-lib`, reader);
          const before = gatehouse.peakRssMb() ?? 0;
          const overLimit = await sendLarge(url, '/contoso/_packaging/c0/npm/registry/big-package', packaging, 70 * MiB);
          const notAllowed = await sendLarge(url, '/contoso/_packaging/c0/npm/registry/other-package', reader, 60 * MiB);
          const after = gatehouse.peakRssMb() ?? 0;
          const growth = after - before;

          const rows: Row[] = [
            {
              id: 'P8',
              scenario: 'P8 notice latency with a blackholed organization (40 queued) vs without (median)',
              gatehouse: fmt(noisyMs, 'ms'),
              baseline: fmt(quietMs, 'ms'),
              ratio: ratioText(noisyMs / quietMs),
              goal: '≤ 1.5×',
              met: noisyMs <= quietMs * 1.5,
            },
            {
              id: 'P8',
              scenario: 'P8 npm read over a 10-feed dense upstream graph vs one feed (median)',
              gatehouse: fmt(graphMs, 'ms'),
              baseline: fmt(singleMs, 'ms'),
              ratio: ratioText(graphMs / singleMs),
              goal: 'info',
              met: null,
              note: `public registry calls per graph read: ${graphCalls} (27 paths lead there)`,
            },
            {
              id: 'P8',
              scenario: `P8 peak RSS growth during refused publishes (70 MB over the limit: ${overLimit}; 60 MB without publish rights: ${notAllowed})`,
              gatehouse: fmt(growth, 'MB'),
              baseline: '—',
              ratio: '',
              goal: '≤ +50 MB',
              met: growth <= 50,
            },
          ];
          return {
            rows,
            data: {
              quietMs: quiet.map((v) => round(v)),
              noisyMs: noisy.map((v) => round(v)),
              singleReadMs: round(singleMs),
              graphReadMs: round(graphMs),
              graphPackumentCalls: graphCalls,
              publishStatuses: { overLimit, notAllowed },
              rssBeforeMb: round(before, 1),
              rssAfterMb: round(after, 1),
            },
          };
        },
      ),
    );
  } finally {
    await Promise.all([registry.server, blackhole, receiver].map(close));
  }
};
