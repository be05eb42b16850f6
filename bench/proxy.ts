import { Agent, createServer, request, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exitWithParent } from './lib.js';

/**
 * A counting HTTP proxy in front of Azurite: one listener per service (blob, queue, table) forwarding
 * to the real ports, counting every request by `<service> <METHOD> <resource>` (the table or queue
 * name; `$batch` for entity group transactions). A control listener answers `GET /counts` and
 * `POST /reset`. Env: TARGET_HOST, TARGET_PORTS (`blob,queue,table`). Prints
 * `BENCH_READY {"ports": {blob, queue, table}, "control": port}`.
 */

const host = process.env.TARGET_HOST ?? '127.0.0.1';
const [blob, queue, table] = (process.env.TARGET_PORTS ?? '').split(',').map(Number);
if (!blob || !queue || !table) throw new Error('TARGET_PORTS must be blob,queue,table');
const targets = { blob, queue, table };
const agent = new Agent({ keepAlive: true, maxSockets: 256 });
let counts = new Map<string, number>();

/** `/devstoreaccount1/pats(PartitionKey='a',RowKey='b')?…` → `pats`; `/devstoreaccount1/q/messages` → `q/messages`. */
function resourceOf(url: string): string {
  const path = (url.split('?')[0] ?? '').split('/').slice(2).join('/');
  return path.replace(/\(.*\)$/, '()').replace(/\/messages\/[^/]+$/, '/messages/{id}') || '(account)';
}

function listen(service: keyof typeof targets): Promise<Server> {
  const server = createServer((req: IncomingMessage, res) => {
    const key = `${service} ${req.method ?? '?'} ${resourceOf(req.url ?? '/')}`;
    counts.set(key, (counts.get(key) ?? 0) + 1);
    const upstream = request({ host, port: targets[service], method: req.method, path: req.url, headers: req.headers, agent }, (response) => {
      res.writeHead(response.statusCode ?? 502, response.headers);
      response.pipe(res);
    });
    upstream.on('error', () => {
      if (!res.headersSent) res.writeHead(502);
      res.end();
    });
    req.pipe(upstream);
  });
  server.keepAliveTimeout = 30_000;
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main(): Promise<void> {
  const servers = { blob: await listen('blob'), queue: await listen('queue'), table: await listen('table') };
  const control = createServer((req, res) => {
    if (req.method === 'POST' && req.url === '/reset') counts = new Map();
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(Object.fromEntries(counts)));
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', () => resolve()));
  const port = (server: Server) => (server.address() as AddressInfo).port;
  exitWithParent(async () => {
    for (const server of [...Object.values(servers), control]) server.close();
  });
  process.stdout.write(
    `BENCH_READY ${JSON.stringify({ ports: { blob: port(servers.blob), queue: port(servers.queue), table: port(servers.table) }, control: port(control) })}\n`,
  );
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
