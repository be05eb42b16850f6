import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { QueueClient } from '@azure/storage-queue';
import { exitWithParent } from './lib.js';

/**
 * The baselines: minimal Node processes doing the least storage work for each job, with the same
 * storage SDKs Gatehouse uses and nothing else (no framework, validation, logging or auth).
 * BASELINE selects the job:
 * - `http`: a bare node:http server answering every request with one Azurite point read of the entity its query names (P1);
 * - `pat-create`: CONCURRENCY loops for DURATION_MS doing the storage calls of one PAT create (P2);
 * - `audit-writer`: a receive / transaction / delete loop draining EVENTS audit messages (P4).
 * STORAGE is the connection string. Prints `BENCH_READY {...}` and, for loops, `BENCH_RESULT {...}`.
 */

const connectionString = process.env.STORAGE ?? '';
const table = (name: string) => TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });
const queue = (name: string) => new QueueClient(connectionString, name);
const ready = (value: Record<string, unknown>) => process.stdout.write(`BENCH_READY ${JSON.stringify(value)}\n`);
const result = (value: Record<string, unknown>) => process.stdout.write(`BENCH_RESULT ${JSON.stringify(value)}\n`);

// ---- P1: one point read per request ---------------------------------------------------------------

/**
 * Answers every request with the entity its query names (`table`, `partitionKey`, `rowKey`), read
 * with one point read and sent back as JSON: P1 names the PAT record Gatehouse reads, so both sides
 * fetch the same entity from the same table and answer about as many bytes.
 */
async function httpBaseline(): Promise<void> {
  const tables = new Map<string, TableClient>();
  const tableNamed = (name: string) => {
    let client = tables.get(name);
    if (!client) tables.set(name, (client = table(name)));
    return client;
  };
  const server = createServer((req, res) => {
    const query = new URLSearchParams(req.url?.split('?')[1] ?? '');
    tableNamed(query.get('table') ?? '')
      .getEntity(query.get('partitionKey') ?? '', query.get('rowKey') ?? '')
      .then(
        (entity) => {
          const body = JSON.stringify(entity);
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
          res.end(body);
        },
        () => {
          res.writeHead(500);
          res.end();
        },
      );
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  exitWithParent(async () => void server.close());
  ready({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
}

// ---- P2: the storage calls of a PAT create ----------------------------------------------------------

/**
 * The same calls Gatehouse makes for `POST …/tokens/pats` (counted by the proxy; see docs/benchmarks.md):
 * the audit queue send (the event with its delivery), then the record + outbox row transaction
 * in the owner's partition. Organization, membership and policy reads are cached on both sides.
 */
async function patCreateBaseline(): Promise<void> {
  const organizationId = process.env.ORGANIZATION_ID ?? '';
  const ownerId = process.env.OWNER_ID ?? '';
  const concurrency = Number(process.env.CONCURRENCY ?? '8');
  const durationMs = Number(process.env.DURATION_MS ?? '3000');
  const pats = table('pats');
  const audit = queue('audit-events');
  const partition = createHash('sha256').update(ownerId).digest('hex').slice(0, 4);

  const once = async () => {
    const id = `${partition}${randomUUID().slice(4)}`;
    const hash = createHash('sha256').update(randomBytes(32)).digest('hex');
    const now = Date.now();
    const validTo = new Date(now + 30 * 86_400_000).toISOString();
    const columns = { ownerId, authorizationId: id, scope: 'vso.code', validFrom: new Date(now).toISOString(), validTo, organizationId, displayName: 'bench' };
    const eventId = randomUUID();
    const delivery = { table: 'pats', partitionKey: partition, rowKey: `outbox_${eventId}`, sentAt: new Date(now).toISOString() };
    const event = JSON.stringify({ id: eventId, actionId: 'Token.PatCreateEvent', data: columns, delivery, padding: 'x'.repeat(900) });
    await audit.sendMessage(Buffer.from(event).toString('base64'), { messageTimeToLive: -1 });
    const actions: TransactionAction[] = [
      ['create', { partitionKey: partition, rowKey: `pat_${id}`, ...columns, hash, accessId: randomUUID(), pepperVersion: '1' }],
      ['create', { partitionKey: partition, rowKey: `outbox_${eventId}`, eventId, actionId: 'Token.PatCreateEvent' }],
    ];
    await pats.submitTransaction(actions);
  };

  ready({});
  await once(); // warm the connections
  const latencies: number[] = [];
  const started = performance.now();
  const deadline = started + durationMs;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < deadline) {
        const t = performance.now();
        await once();
        latencies.push(performance.now() - t);
      }
    }),
  );
  result({ ops: latencies.length, ms: performance.now() - started, latencies });
}

// ---- P4: receive / transaction / delete --------------------------------------------------------------

async function auditWriterBaseline(): Promise<void> {
  const events = Number(process.env.EVENTS ?? '100');
  const source = queue('audit-events');
  const log = table('auditlog');
  ready({ startedAt: Date.now() });
  const started = performance.now();
  let stored = 0;
  // The only writer of its partitions: the chain head stays in memory and is upserted with each event.
  const heads = new Map<string, { seq: number; hash: string }>();
  const deadline = Date.now() + Number(process.env.DEADLINE_MS ?? '300000');
  while (stored < events) {
    if (Date.now() > deadline) throw new Error(`only ${stored} of ${events} events arrived before the deadline`);
    const { receivedMessageItems: messages } = await source.receiveMessages({ numberOfMessages: 16, visibilityTimeout: 600 });
    if (messages.length === 0) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      continue;
    }
    for (const message of messages) {
      const event = JSON.parse(Buffer.from(message.messageText, 'base64').toString('utf8')) as Record<string, unknown> & {
        id: string;
        timestamp: string;
        organizationId: string;
      };
      const ms = Date.parse(event.timestamp);
      const partitionKey = `${event.organizationId}|${new Date(ms).toISOString().slice(0, 10).replace(/-/g, '')}`;
      const head = heads.get(partitionKey) ?? { seq: 0, hash: '' };
      const data = JSON.stringify(event.data ?? {});
      const hash = createHash('sha256').update(head.hash).update(JSON.stringify(event)).digest('hex');
      const rowKey = `e_${String(9_999_999_999_999 - ms).padStart(19, '0')}_${event.id}`;
      const row: TableEntity = { partitionKey, rowKey, ...flatten(event), Data: data, Seq: head.seq + 1, PrevHash: head.hash, Hash: hash };
      await log.submitTransaction([
        ['create', row],
        ['create', { partitionKey, rowKey: `d_${event.id}`, EventRowKey: rowKey }],
        ['upsert', { partitionKey, rowKey: 'head', Seq: head.seq + 1, Hash: hash }, 'Replace'],
      ]);
      heads.set(partitionKey, { seq: head.seq + 1, hash });
      stored++;
    }
    await Promise.all(messages.map((message) => source.deleteMessage(message.messageId, message.popReceipt)));
  }
  result({ events: stored, ms: performance.now() - started, finishedAt: Date.now() });
}

function flatten(event: Record<string, unknown>): Record<string, string> {
  const columns: Record<string, string> = {};
  for (const [key, value] of Object.entries(event)) {
    if (key === 'data') continue;
    if (value && typeof value === 'object') for (const [inner, v] of Object.entries(value)) columns[`${key}_${inner}`] = String(v);
    else columns[key] = String(value);
  }
  return columns;
}

const jobs: Record<string, () => Promise<void>> = { http: httpBaseline, 'pat-create': patCreateBaseline, 'audit-writer': auditWriterBaseline };
const job = jobs[process.env.BASELINE ?? ''];
if (!job) {
  console.error(`BASELINE must be one of ${Object.keys(jobs).join(', ')}`);
  process.exit(2);
}
job().then(
  () => {
    if (process.env.BASELINE !== 'http') process.exit(0);
  },
  (error: unknown) => {
    console.error(error);
    process.exit(1);
  },
);
