import { randomUUID } from 'node:crypto';
import { odata, TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { verifyAuditChains } from '../../shared/audit/verify.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { expectSwaggerValid } from '../helpers/swagger.js';
import { DEMO_ORGANIZATIONS } from '../../local/demo-data.js';
import type { AuditEvent } from '../../shared/audit/events.js';
import { writeAuditEvent } from '../../shared/audit/writer.js';
import { csvField } from '../../shared/audit/download.js';
import { QUEUES, TABLES, poisonQueueName } from '../../shared/storage/names.js';
import { encodeQueueMessage, sendJson } from '../../shared/storage/queue.js';
import { signAuditMessage } from '../../shared/audit/ingestion.js';
import { demoUser } from '../helpers/demo.js';
import { sampleAuditEvent } from '../helpers/audit.js';

const SPEC = 'audit/7.1/audit.json';
const V = 'api-version=7.1-preview.1';
const contoso = DEMO_ORGANIZATIONS[0];
const fabrikam = DEMO_ORGANIZATIONS[1];
const user = demoUser;
const alice = user('alice@contoso.com');
const bob = user('bob@contoso.com');
const carol = user('carol@contoso.com');
const dave = user('dave@contoso.com');
const webProject = contoso.projects[0];
const apiProject = contoso.projects[1];
const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let env: TestEnvironment;
const api = client(() => env);
const NOW = '2026-03-10T12:00:00.000Z';

beforeAll(async () => {
  env = await startTestEnvironment({ triggers: true, now: NOW, host: { maxPollingIntervalMs: 200 } });
});
afterAll(async () => {
  await env?.stop();
});

function event(overrides: Partial<AuditEvent> = {}): AuditEvent {
  return sampleAuditEvent(env.clock.now(), overrides);
}

async function token(email: string, scopes?: string[]) {
  return env.userToken(email, scopes ? { scopes } : {});
}

async function rowsOfEvent(organizationId: string, eventId: string) {
  const rows = [];
  for await (const row of env.app.storage.table(TABLES.auditLog).listEntities({ queryOptions: { filter: odata`EventId eq ${eventId}` } })) {
    if (row.partitionKey?.startsWith(organizationId)) rows.push(row);
  }
  return rows;
}

async function peekPoison(): Promise<string[]> {
  const response = await env.app.storage.queue(poisonQueueName(QUEUES.audit)).peekMessages({ numberOfMessages: 32 });
  return response.peekedMessageItems.map((item) => Buffer.from(item.messageText, 'base64').toString('utf8'));
}

async function clearPoison() {
  await env.app.storage.queue(poisonQueueName(QUEUES.audit)).clearMessages();
}

/** Strict Swagger validation; `data` is checked apart, as the spec types its values as objects although Azure DevOps returns strings there too. */
function expectQueryResultValid(body: any) {
  const copy = structuredClone(body);
  for (const entry of copy.decoratedAuditLogEntries) {
    expect(typeof entry.data).toBe('object');
    entry.data = {};
  }
  expectSwaggerValid(SPEC, 'AuditLogQueryResult', copy, { exact: true });
}

async function queryAll(path: string, auth: string) {
  const entries: any[] = [];
  let continuation: string | undefined;
  let pages = 0;
  do {
    const response = await api.as(auth).get(`${path}${continuation ? `&continuationToken=${encodeURIComponent(continuation)}` : ''}`);
    expect(response.status, response.text).toBe(200);
    expectQueryResultValid(response.body);
    entries.push(...response.body.decoratedAuditLogEntries);
    continuation = response.body.hasMore ? response.body.continuationToken : undefined;
    if (response.body.hasMore) expect(typeof response.body.continuationToken).toBe('string');
    pages++;
  } while (continuation && pages < 50);
  return { entries, pages };
}

describe('audit writer (queue trigger)', () => {
  it('stores a message delivered three times once', async () => {
    const message = signAuditMessage(env.app, event({ data: { DisplayName: 'redelivered' } }));
    const queue = env.app.storage.queue(QUEUES.audit);
    await Promise.all([sendJson(queue, message), sendJson(queue, message), sendJson(queue, message)]);
    await env.runtime.drainQueues();
    await env.runtime.invoke('audit-writer', message);
    const rows = await rowsOfEvent(contoso.id, message.id);
    expect(rows).toHaveLength(1);
    const dedupe = await env.app.storage.table(TABLES.auditLog).getEntity(rows[0]!.partitionKey!, `d_${message.id}`);
    expect(dedupe.EventRowKey).toBe(rows[0]!.rowKey);
    expect(env.logs.some((line) => line.includes('audit event already stored') && line.includes(message.id))).toBe(true);
  });

  it('appends concurrent events to one chain without gaps', async () => {
    const queue = env.app.storage.queue(QUEUES.audit);
    const events = Array.from({ length: 40 }, (_, i) =>
      event({ data: { DisplayName: `concurrent ${i}` }, timestamp: new Date(env.clock.now().getTime() - i).toISOString() }),
    );
    await Promise.all(events.map((e) => sendJson(queue, signAuditMessage(env.app, e))));
    await env.runtime.drainQueues();
    const partition = `${contoso.id}|20260310`;
    const seqs: number[] = [];
    for await (const row of env.app.storage.table(TABLES.auditLog).listEntities<{ Seq: number }>({
      queryOptions: { filter: odata`PartitionKey eq ${partition} and RowKey ge 'e_' and RowKey lt 'e_~'` },
    })) {
      seqs.push(row.Seq);
    }
    seqs.sort((a, b) => a - b);
    expect(seqs).toEqual(Array.from({ length: seqs.length }, (_, i) => i + 1));
    expect(seqs.length).toBeGreaterThanOrEqual(41);
  });

  it('moves invalid messages to the poison queue at once, logs why, and keeps writing the events behind them', async () => {
    await clearPoison();
    const queue = env.app.storage.queue(QUEUES.audit);
    const before = env.logs.length;
    const good = event({ data: { DisplayName: 'behind the hostile ones' } });
    let deep: unknown = 'bottom';
    for (let i = 0; i < 200; i++) deep = { nested: deep };
    const hostile: string[] = [
      Buffer.from('this is not json').toString('base64'),
      encodeQueueMessage({ hello: 'world' }),
      encodeQueueMessage({ ...event(), id: 'not-a-uuid' }),
      encodeQueueMessage({ ...event(), data: { deep } }),
      encodeQueueMessage({ ...event(), data: { DisplayName: 'lone \ud800 surrogate' } }),
      encodeQueueMessage(signAuditMessage(env.app, { ...event(), timestamp: '2999-01-01T00:00:00Z' })),
      encodeQueueMessage(JSON.parse(`{"__proto__":{"polluted":true},${JSON.stringify(event()).slice(1, -1)}}`)),
      encodeQueueMessage([1, 2, 3]),
      '{raw text, not base64}',
    ];
    for (const text of hostile) await queue.sendMessage(text);
    await sendJson(queue, signAuditMessage(env.app, good));
    await env.runtime.drainQueues();

    expect(await rowsOfEvent(contoso.id, good.id)).toHaveLength(1);
    const poison = await peekPoison();
    // The __proto__ message would be valid (its __proto__ key is just data) but carries no proof: all nine are poison.
    expect(poison.length).toBe(9);
    expect(poison).toContain('this is not json');
    expect(poison).toContain('{"hello":"world"}');
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
    const logs = env.logs.slice(before);
    const poisoned = logs.filter((line) => line.includes('moved to poison queue'));
    expect(poisoned.length).toBe(9);
    expect(poisoned.some((line) => line.includes('no proof'))).toBe(true);
    expect(poisoned.some((line) => line.includes('the message is not JSON'))).toBe(true);
    expect(poisoned.some((line) => line.includes('nested deeper'))).toBe(true);
    expect(poisoned.some((line) => line.includes('surrogates'))).toBe(true);
    expect(poisoned.some((line) => line.includes('future'))).toBe(true);
    expect(poisoned.some((line) => line.includes('message decoding failed'))).toBe(true);
    // No retry loop: no invocation of the writer failed.
    expect(logs.filter((line) => line.includes('"function":"audit-writer"') && line.includes('"outcome":"failed"'))).toHaveLength(0);
  });
});

describe('query', () => {
  const pagingEvents: AuditEvent[] = [];
  const marker = randomUUID().slice(0, 8);

  beforeAll(async () => {
    // 25 Token.SshCreateEvent events over three days, written directly (the queue path is tested above).
    const base = env.clock.now().getTime();
    for (let i = 0; i < 25; i++) {
      const e = event({
        actionId: 'Token.SshCreateEvent',
        area: 'Token',
        timestamp: new Date(base - (i % 3) * DAY - i * 60_000).toISOString(),
        actor:
          i % 2 === 0
            ? { kind: 'user', id: bob.id, upn: bob.email, displayName: bob.displayName, authenticationMechanism: 'EntraBearer' }
            : { kind: 'user', id: dave.id, upn: dave.email, displayName: dave.displayName, authenticationMechanism: 'EntraBearer' },
        ...(i % 5 === 0 ? { projectId: webProject.id, projectName: webProject.name } : { projectId: apiProject.id, projectName: apiProject.name }),
        data: { DisplayName: `key ${marker} ${i}` },
      });
      pagingEvents.push(e);
      await writeAuditEvent(env.app, e);
    }
  });

  it('pages through a window newest first with continuation tokens (Swagger-valid)', async () => {
    const auth = await token(alice.email);
    const start = new Date(env.clock.now().getTime() - 3 * DAY).toISOString();
    const { entries, pages } = await queryAll(`/contoso/_apis/audit/auditlog?${V}&batchSize=10&actionId=Token.SshCreateEvent&startTime=${start}`, auth);
    expect(pages).toBe(3);
    expect(entries).toHaveLength(25);
    expect(new Set(entries.map((e) => e.id)).size).toBe(25);
    const times = entries.map((e) => Date.parse(e.timestamp));
    expect(times.every(Number.isFinite)).toBe(true);
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    expect(entries.map((e) => e.timestamp).sort()).toEqual(pagingEvents.map((e) => e.timestamp).sort());
    const first = entries.find((e) => e.data.DisplayName === `key ${marker} 0`);
    expect(first).toMatchObject({
      actionId: 'Token.SshCreateEvent',
      area: 'Token',
      category: 'create',
      categoryDisplayName: 'Create',
      details: `SSH key "key ${marker} 0" was created.`,
      actorUserId: bob.id,
      actorUPN: bob.email,
      scopeType: 'organization',
      scopeId: contoso.id,
      scopeDisplayName: 'contoso (Organization)',
      projectId: webProject.id,
      projectName: 'web',
    });
  });

  it('filters by actionId, area, actor and projectId', async () => {
    const auth = await token(alice.email);
    const start = new Date(env.clock.now().getTime() - 3 * DAY).toISOString();
    const base = `/contoso/_apis/audit/auditlog?${V}&batchSize=100&startTime=${start}&actionId=Token.SshCreateEvent`;
    const byBob = await queryAll(`${base}&actor=${bob.email.toUpperCase()}`, auth);
    expect(byBob.entries).toHaveLength(13);
    expect(byBob.entries.every((e) => e.actorUserId === bob.id)).toBe(true);
    const byDaveId = await queryAll(`${base}&actor=${dave.id}`, auth);
    expect(byDaveId.entries).toHaveLength(12);
    const inWeb = await queryAll(`${base}&projectId=${webProject.id}`, auth);
    expect(inWeb.entries).toHaveLength(5);
    const area = await queryAll(`/contoso/_apis/audit/auditlog?${V}&area=Checks&startTime=${start}`, auth);
    expect(area.entries.every((e) => e.area === 'Checks')).toBe(true);
    const bobInWeb = await queryAll(`${base}&projectId=${webProject.id}&actor=${bob.id}`, auth);
    expect(bobInWeb.entries.map((e) => e.data.DisplayName).sort()).toEqual([`key ${marker} 0`, `key ${marker} 10`, `key ${marker} 20`].sort());
  });

  it('a window in the past returns only the events inside it', async () => {
    const auth = await token(alice.email);
    const end = env.clock.now().getTime() - DAY + HOUR;
    const start = end - 2 * HOUR;
    const { entries } = await queryAll(
      `/contoso/_apis/audit/auditlog?${V}&actionId=Token.SshCreateEvent&startTime=${new Date(start).toISOString()}&endTime=${new Date(end).toISOString()}`,
      auth,
    );
    const expected = pagingEvents.filter((e) => Date.parse(e.timestamp) >= start && Date.parse(e.timestamp) <= end);
    expect(entries.map((e) => e.id).sort()).toEqual(expected.map((e) => e.id).sort());
    expect(entries.length).toBeGreaterThan(0);
  });

  it('records reads as AuditLog.AccessLog and aggregates them unless skipAggregation=true', async () => {
    const auth = await token(bob.email);
    const admin = await token(alice.email);
    expect((await api.put(`/contoso/_apis/audit/readers/${bob.id}?${V}`)).status).toBe(401);
    const grant = await api.as(admin).put(`/contoso/_apis/audit/readers/${bob.id}?${V}`);
    expect(grant.status).toBe(201);
    for (let i = 0; i < 3; i++) expect((await api.as(auth).get(`/contoso/_apis/audit/auditlog?${V}&batchSize=1`)).status).toBe(200);
    await env.runtime.drainQueues();
    await env.runtime.drainQueues();
    const aggregated = await api.as(admin).get(`/contoso/_apis/audit/auditlog?${V}&actionId=AuditLog.AccessLog&actor=${bob.id}`);
    expect(aggregated.status).toBe(200);
    expectQueryResultValid(aggregated.body);
    expect(aggregated.body.decoratedAuditLogEntries).toHaveLength(1);
    const [entry] = aggregated.body.decoratedAuditLogEntries;
    expect(entry.details).toBe('Accessed the audit log 3 times');
    expect(entry.data.EventSummary).toHaveLength(3);
    expect(entry.area).toBe('Auditing');
    expect(entry.category).toBe('access');
    const single = await api.as(admin).get(`/contoso/_apis/audit/auditlog?${V}&actionId=AuditLog.AccessLog&actor=${bob.id}&skipAggregation=true`);
    expect(single.body.decoratedAuditLogEntries).toHaveLength(3);
    expect(single.body.decoratedAuditLogEntries[0].details).toBe('Accessed the audit log');
    // The grant itself is audited (through the outbox).
    const granted = await api.as(admin).get(`/contoso/_apis/audit/auditlog?${V}&actionId=AuditLog.ReaderGranted`);
    expect(granted.body.decoratedAuditLogEntries[0]).toMatchObject({ actorUserId: alice.id, details: `Granted audit log read access to ${bob.displayName}.` });
    expect((await api.as(admin).delete(`/contoso/_apis/audit/readers/${bob.id}?${V}`)).status).toBe(204);
    expect((await api.as(auth).get(`/contoso/_apis/audit/auditlog?${V}`)).status).toBe(403);
  });

  it('renders unknown actions generically', async () => {
    const e = event({ actionId: 'Future.SomethingNew', area: 'Future', category: 'unknown', data: { Thing: 'x', Count: 2 } });
    await writeAuditEvent(env.app, e);
    const response = await api.as(await token(alice.email)).get(`/contoso/_apis/audit/auditlog?${V}&actionId=Future.SomethingNew`);
    expect(response.body.decoratedAuditLogEntries[0].details).toBe('Future.SomethingNew (Future): Count: 2, Thing: x');
  });
});

describe('bad input is a 4xx with a code and writes nothing', () => {
  async function accessEvents() {
    await env.runtime.drainQueues();
    let count = 0;
    for await (const _ of env.app.storage
      .table(TABLES.auditLog)
      .listEntities({ queryOptions: { filter: odata`ActionId eq 'AuditLog.AccessLog'`, select: ['RowKey'] } }))
      count++;
    return count;
  }

  it('rejects bad windows, batch sizes, tokens and formats', async () => {
    const auth = await token(alice.email);
    const before = await accessEvents();
    const cases: [string, number, string][] = [
      [`/contoso/_apis/audit/auditlog?${V}&startTime=yesterday`, 400, 'invalidQueryParameter'],
      [`/contoso/_apis/audit/auditlog?${V}&endTime=2026-13-45T00:00:00Z`, 400, 'invalidQueryParameter'],
      [`/contoso/_apis/audit/auditlog?${V}&startTime=2026-03-10T00:00:00Z&endTime=2026-03-01T00:00:00Z`, 400, 'invalidTimeWindow'],
      [`/contoso/_apis/audit/auditlog?${V}&batchSize=0`, 400, 'invalidQueryParameter'],
      [`/contoso/_apis/audit/auditlog?${V}&batchSize=1001`, 400, 'invalidQueryParameter'],
      [`/contoso/_apis/audit/auditlog?${V}&batchSize=ten`, 400, 'invalidQueryParameter'],
      [`/contoso/_apis/audit/auditlog?${V}&skipAggregation=maybe`, 400, 'invalidQueryParameter'],
      [`/contoso/_apis/audit/auditlog?${V}&projectId=web`, 400, 'invalidQueryParameter'],
      [`/contoso/_apis/audit/auditlog?${V}&continuationToken=garbage`, 400, 'invalidContinuationToken'],
      [`/contoso/_apis/audit/auditlog`, 400, 'apiVersionRequired'],
      [`/contoso/_apis/audit/downloadlog?${V}&format=xml`, 400, 'invalidQueryParameter'],
      [`/contoso/_apis/audit/downloadlog?${V}`, 400, 'invalidQueryParameter'],
      [`/contoso/_apis/audit/downloadlog?${V}&format=csv&startTime=2026-03-10&endTime=2026-03-01`, 400, 'invalidTimeWindow'],
      [`/contoso/_apis/audit/verify?${V}&startTime=2026-01-01T00:00:00Z&endTime=2026-03-10T00:00:00Z`, 400, 'timeWindowTooLarge'],
    ];
    for (const [path, status, code] of cases) {
      const response = await api.as(auth).get(path);
      expect(response.status, path).toBe(status);
      expect(response.body.code, path).toBe(code);
    }
    expect(await accessEvents()).toBe(before);
  });

  it('rejects tampered continuation tokens and tokens reused with other filters or windows', async () => {
    const auth = await token(alice.email);
    const first = await api.as(auth).get(`/contoso/_apis/audit/auditlog?${V}&batchSize=2&actionId=Token.SshCreateEvent`);
    expect(first.body.hasMore).toBe(true);
    const tokenValue: string = first.body.continuationToken;
    const [body, mac] = tokenValue.split('.') as [string, string];
    const payload = JSON.parse(Buffer.from(body, 'base64url').toString('utf8'));
    payload.s = 0;
    const forged = `${Buffer.from(JSON.stringify(payload)).toString('base64url')}.${mac}`;
    const flipped = `${body}.${mac.startsWith('A') ? 'B' : 'A'}${mac.slice(1)}`;
    for (const bad of [forged, flipped, `${tokenValue}x`]) {
      const response = await api
        .as(auth)
        .get(`/contoso/_apis/audit/auditlog?${V}&batchSize=2&actionId=Token.SshCreateEvent&continuationToken=${encodeURIComponent(bad)}`);
      expect(response.status).toBe(400);
      expect(response.body.code).toBe('invalidContinuationToken');
    }
    const otherFilter = await api.as(auth).get(`/contoso/_apis/audit/auditlog?${V}&batchSize=2&continuationToken=${encodeURIComponent(tokenValue)}`);
    expect(otherFilter.body.code).toBe('continuationTokenMismatch');
    const otherWindow = await api
      .as(auth)
      .get(
        `/contoso/_apis/audit/auditlog?${V}&batchSize=2&actionId=Token.SshCreateEvent&startTime=2026-03-01&continuationToken=${encodeURIComponent(tokenValue)}`,
      );
    expect(otherWindow.body.code).toBe('continuationTokenMismatch');
    // Another organization cannot use it either.
    const erin = await token('erin@fabrikam.com');
    const cross = await api
      .as(erin)
      .get(`/fabrikam/_apis/audit/auditlog?${V}&batchSize=2&actionId=Token.SshCreateEvent&continuationToken=${encodeURIComponent(tokenValue)}`);
    expect(cross.body.code).toBe('invalidContinuationToken');
  });
});

describe('download', () => {
  const hostile = ['=HYPERLINK("http://evil.example","click")', '+SUM(1,2)', '-2+3', '@cmd', '\tTAB', '\rCR', 'comma, "quoted"\r\nnew line'];
  let hostileEvent: AuditEvent;

  beforeAll(async () => {
    hostileEvent = event({
      actionId: 'Token.PatRevokeEvent',
      area: 'Token',
      category: 'remove',
      actor: { kind: 'user', id: carol.id, upn: "=cmd|' /C calc'!A0", displayName: '@evil', authenticationMechanism: '-EntraBearer' },
      userAgent: '+curl/8',
      data: { DisplayName: hostile[0], Others: hostile },
    });
    await writeAuditEvent(env.app, hostileEvent);
  });

  const header = (rows: string[][], name: string) => rows[0]!.indexOf(name);

  function parseCsv(text: string): string[][] {
    const rows: string[][] = [];
    let row: string[] = [];
    let field = '';
    let quoted = false;
    for (let i = 0; i < text.length; i++) {
      const c = text[i]!;
      if (quoted) {
        if (c === '"' && text[i + 1] === '"') {
          field += '"';
          i++;
        } else if (c === '"') quoted = false;
        else field += c;
      } else if (c === '"') quoted = true;
      else if (c === ',') {
        row.push(field);
        field = '';
      } else if (c === '\r' && text[i + 1] === '\n') {
        row.push(field);
        rows.push(row);
        row = [];
        field = '';
        i++;
      } else field += c;
    }
    if (field || row.length) {
      row.push(field);
      rows.push(row);
    }
    return rows;
  }

  it('escapes CSV fields per RFC 4180 and neutralises formulas', () => {
    expect(csvField('=1+1')).toBe("'=1+1");
    expect(csvField('+1')).toBe("'+1");
    expect(csvField('-1')).toBe("'-1");
    expect(csvField('@x')).toBe("'@x");
    expect(csvField('\tx')).toBe("'\tx");
    expect(csvField('\rx')).toBe(`"'\rx"`);
    expect(csvField('a,"b"')).toBe('"a,""b"""');
    expect(csvField('plain')).toBe('plain');
    expect(csvField(undefined)).toBe('');
  });

  it('streams CSV with hostile cells neutralised', async () => {
    const auth = await token(alice.email);
    const response = await api.as(auth).get(`/contoso/_apis/audit/downloadlog?${V}&format=csv`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/octet-stream');
    expect(response.headers.get('content-disposition')).toMatch(/^attachment; filename="audit-contoso-\d{8}T\d{6}-\d{8}T\d{6}\.csv"$/);
    expect(response.headers.get('content-length')).toBeNull();
    const text = response.text;
    const rows = parseCsv(text);
    const header = rows[0]!;
    expect(header[0]).toBe('Id');
    expect(rows.every((row) => row.length === header.length)).toBe(true);
    const row = rows.find((candidate) => candidate[0] === hostileEvent.id)!;
    const cell = (name: string) => row[header.indexOf(name)]!;
    expect(cell('ActorUPN')).toBe("'=cmd|' /C calc'!A0");
    expect(cell('ActorDisplayName')).toBe("'@evil");
    expect(cell('AuthenticationMechanism')).toBe("'-EntraBearer");
    expect(cell('UserAgent')).toBe("'+curl/8");
    expect(cell('Details')).toBe(`Personal Access Token "${hostile[0]}" was revoked.`);
    expect(JSON.parse(cell('Data'))).toEqual(hostileEvent.data);
    for (const r of rows.slice(1)) for (const value of r) expect(value).not.toMatch(/^[=+\-@\t\r]/);
  });

  it('streams JSON', async () => {
    const auth = await token(alice.email);
    const response = await api.as(auth).get(`/contoso/_apis/audit/downloadlog?${V}&format=json`);
    expect(response.status).toBe(200);
    const entries = response.body as any[];
    const entry = entries.find((candidate) => candidate.id === hostileEvent.id);
    expect(entry.data).toEqual(hostileEvent.data);
    expect(entry.actorUPN).toBe(hostileEvent.actor.upn);
    for (const e of entries) {
      expectSwaggerValid(SPEC, 'DecoratedAuditLogEntry', { ...e, data: {} }, { exact: true });
    }
    const times = entries.map((e) => Date.parse(e.timestamp));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
  });

  it('streams a window larger than one table page in both formats', async () => {
    const dayStart = Date.parse('2026-03-05T00:00:00Z');
    const ids = new Set<string>();
    for (let i = 0; i < 1050; i += 75) {
      const batch = Array.from({ length: Math.min(75, 1050 - i) }, (_, j) =>
        event({ timestamp: new Date(dayStart + (i + j) * 60_000).toISOString(), data: { DisplayName: `bulk ${i + j}` } }),
      );
      batch.forEach((e) => ids.add(e.id));
      await Promise.all(batch.map((e) => writeAuditEvent(env.app, e)));
    }
    const auth = await token(alice.email);
    const window = '&startTime=2026-03-05T00:00:00Z&endTime=2026-03-05T23:59:59Z';
    const json = (await api.as(auth).get(`/contoso/_apis/audit/downloadlog?${V}&format=json${window}`)).body as any[];
    expect(json).toHaveLength(1050);
    expect(new Set(json.map((e) => e.id))).toEqual(ids);
    const csv = parseCsv((await api.as(auth).get(`/contoso/_apis/audit/downloadlog?${V}&format=csv${window}`)).text);
    expect(csv).toHaveLength(1051);
    expect(csv[1]![header(csv, 'Timestamp')]).toBe('2026-03-05T17:29:00.000Z');
    // The query API pages the same day across table pages too.
    const paged = await queryAll(`/contoso/_apis/audit/auditlog?${V}&batchSize=1000${window}`, auth);
    expect(paged.pages).toBe(2);
    expect(new Set(paged.entries.map((e) => e.id))).toEqual(ids);
  });

  it('streams an empty window as an empty array and a header-only CSV', async () => {
    const auth = await token(alice.email);
    const window = '&startTime=2026-03-01T00:00:00Z&endTime=2026-03-01T01:00:00Z';
    const json = await api.as(auth).get(`/contoso/_apis/audit/downloadlog?${V}&format=json${window}`);
    expect(json.body).toEqual([]);
    const csv = await api.as(auth).get(`/contoso/_apis/audit/downloadlog?${V}&format=csv${window}`);
    expect(csv.text.split('\r\n').filter(Boolean)).toHaveLength(1);
  });
});

describe('who may read', () => {
  it('allows administrators and granted readers; refuses Project-Scoped Users, other organizations and apps without the role', async () => {
    const paths = [`/contoso/_apis/audit/auditlog?${V}&batchSize=1`, `/contoso/_apis/audit/downloadlog?${V}&format=json&startTime=2026-03-10T11:00:00Z`];
    for (const path of paths) {
      expect((await api.as(await token(alice.email)).get(path)).status, path).toBe(200);
      expect((await api.as(await token(carol.email)).get(path)).status, path).toBe(403);
      expect((await api.as(await token(bob.email)).get(path)).status, path).toBe(403);
      const erin = await api.as(await token('erin@fabrikam.com')).get(path);
      expect(erin.status, path).toBe(404);
      expect(erin.body.code).toBe('organizationNotFound');
      const noScope = await api.as(await token(alice.email, ['vso.pats'])).get(path);
      expect(noScope.status).toBe(403);
      expect(noScope.body.code).toBe('insufficientScope');
      const gitserver = await api.as(await env.appToken('gitserver')).get(path);
      expect(gitserver.status).toBe(403);
      expect(gitserver.body.code).toBe('missingAppRole');
      expect((await api.as(await env.appToken('pipelines')).get(path)).status).toBe(403);
      expect((await api.as(await env.appToken('gitserver', { roles: ['Gatehouse.AuditRead'] })).get(path)).status).toBe(200);
      expect((await api.as('').get(path)).status).toBe(401);
    }
  });

  it('grants reading only to members who are not Project-Scoped Users, and only administrators grant', async () => {
    const admin = await token(alice.email);
    const put = (userId: string, auth: string) => api.as(auth).put(`/contoso/_apis/audit/readers/${userId}?${V}`);
    const refused = await put(carol.id, admin);
    expect(refused.status).toBe(409);
    expect(refused.body.code).toBe('readerNotEligible');
    expect((await put(user('erin@fabrikam.com').id, admin)).status).toBe(404);
    expect((await put(dave.id, await token(bob.email))).status).toBe(403);
    expect((await put(dave.id, admin)).status).toBe(201);
    expect((await put(dave.id, admin)).status).toBe(200);
    const list = await api.as(admin).get(`/contoso/_apis/audit/readers?${V}`);
    expect(list.body.value.map((reader: any) => reader.userId)).toContain(dave.id);
    expect((await api.as(await token(dave.email)).get(`/contoso/_apis/audit/auditlog?${V}&batchSize=1`)).status).toBe(200);
    // A grant row for a Project-Scoped User (written around the API) still does not let them read.
    await env.app.storage.table(TABLES.auditSettings).upsertEntity({ partitionKey: contoso.id, rowKey: `r_${carol.id}`, UserId: carol.id });
    expect((await api.as(await token(carol.email)).get(`/contoso/_apis/audit/auditlog?${V}&batchSize=1`)).status).toBe(403);
    // Verify is for administrators only.
    expect((await api.as(await token(dave.email)).get(`/contoso/_apis/audit/verify?${V}`)).status).toBe(403);
    expect((await api.as(admin).delete(`/contoso/_apis/audit/readers/${dave.id}?${V}`)).status).toBe(204);
    expect((await api.as(admin).delete(`/contoso/_apis/audit/readers/${dave.id}?${V}`)).status).toBe(404);
  });
});

describe('actions', () => {
  it('lists the actions Gatehouse records, filtered by area', async () => {
    const auth = await token(bob.email);
    const all = await api.as(auth).get(`/contoso/_apis/audit/actions?${V}`);
    expect(all.status).toBe(200);
    for (const action of all.body.value) expectSwaggerValid(SPEC, 'AuditActionInfo', action, { exact: true });
    const ids = all.body.value.map((a: any) => a.actionId);
    for (const id of [
      'Token.PatCreateEvent',
      'Token.PatUpdateEvent',
      'Token.PatRevokeEvent',
      'Token.PatSystemRevokeEvent',
      'Token.PatExpiredEvent',
      'Token.PatPublicDiscoveryEvent',
      'Token.PatRotateEvent',
      'Token.PatUsedFromNewIpEvent',
      'Token.PolicyUpdateEvent',
      'Token.SshCreateEvent',
      'Token.SshUpdateEvent',
      'Token.SshRevokeEvent',
      'Token.SshRemoveEvent',
      'Token.SshExpireEvent',
      'CheckSuite.Completed',
      'AuditLog.AccessLog',
    ]) {
      expect(ids).toContain(id);
    }
    const checks = await api.as(auth).get(`/_apis/audit/actions?${V}&areaName=checks`);
    expect(checks.body.value).toEqual([{ actionId: 'CheckSuite.Completed', area: 'Checks', category: 'execute' }]);
    expect(all.body.count).toBe(all.body.value.length);
  });
});

describe('check suite ingestion', () => {
  const suiteId = randomUUID();
  const approvers = Array.from({ length: 2000 }, (_, i) => ({
    id: randomUUID(),
    displayName: `Approver ${i}`,
    uniqueName: `approver${i}@contoso.com`,
    decision: i % 10 === 0 ? 'rejected' : 'approved',
    comment: `Looked at change ${i}; "quotes", commas, and =formulas ${'x'.repeat(100)}`,
    decidedOn: '2026-03-10T11:30:00Z',
  }));
  const body = () => ({
    checkSuiteId: suiteId,
    status: 'approved',
    completedOn: '2026-03-10T11:45:00Z',
    projectId: webProject.id,
    pipeline: { id: 42, name: 'web-ci' },
    run: { id: 1234, name: '20260310.3' },
    stage: { name: 'Production', attempt: 1 },
    checkRuns: [
      { id: randomUUID(), type: 'Approval', status: 'approved', resource: { type: 'environment', id: '7', name: 'prod' }, approvers },
      { id: randomUUID(), type: 'BranchControl', status: 'approved' },
    ],
  });
  const post = (payload: unknown, auth: string) => api.as(auth).post(`/contoso/_apis/audit/checksuites?${V}`, payload);

  it('keeps every approver of a large check suite, once', async () => {
    const pipelines = await env.appToken('pipelines');
    const first = await post(body(), pipelines);
    expect(first.status, first.text).toBe(201);
    const created = first.body;
    expect(created).toMatchObject({ status: 'created', approvers: 2000 });
    const again = await post(body(), pipelines);
    expect(again.status).toBe(200);
    expect(again.body.status).toBe('duplicate');
    const rows = await rowsOfEvent(contoso.id, created.eventId);
    expect(rows).toHaveLength(1);
    expect(typeof rows[0]!.DataBlob).toBe('string');

    const response = await api.as(await token(alice.email)).get(`/contoso/_apis/audit/auditlog?${V}&actionId=CheckSuite.Completed`);
    expectQueryResultValid(response.body);
    const entry = response.body.decoratedAuditLogEntries.find((e: any) => e.id === created.eventId);
    expect(entry).toMatchObject({
      area: 'Checks',
      category: 'execute',
      actorClientId: 'f1e2d3c4-0000-4000-8000-0000000000f1',
      details: 'Checks on stage Production of run #20260310.3 of pipeline web-ci in Project web have been approved',
      projectName: 'web',
    });
    const kept = entry.data.CheckRuns[0].Approvers;
    expect(kept).toHaveLength(2000);
    expect(kept[1999]).toMatchObject({ DisplayName: 'Approver 1999', Decision: 'approved', Comment: approvers[1999]!.comment });
    expect(entry.data.CheckRuns[1]).toMatchObject({ Type: 'BranchControl', Approvers: [] });
  });

  it('stores a check suite once whatever day a repeated post names, and refuses a completion in the future', async () => {
    const pipelines = await env.appToken('pipelines');
    const checkSuiteId = randomUUID();
    const first = await post(
      { ...body(), checkSuiteId, status: 'rejected', checkRuns: [{ id: randomUUID(), type: 'BranchControl', status: 'rejected' }] },
      pipelines,
    );
    expect(first.status).toBe(201);
    const created = first.body as { eventId: string };
    // The same suite posted again under another day, now approved: the first record stands.
    const rewritten = await post(
      { ...body(), checkSuiteId, completedOn: '2026-03-09T09:00:00Z', checkRuns: [{ id: randomUUID(), type: 'BranchControl', status: 'approved' }] },
      pipelines,
    );
    expect(rewritten.status).toBe(200);
    expect(rewritten.body as object).toMatchObject({ eventId: created.eventId, status: 'duplicate' });
    const stored: unknown[] = [];
    for await (const row of env.app.storage.table(TABLES.auditLog).listEntities({ queryOptions: { filter: odata`EventId eq ${created.eventId}` } }))
      stored.push(row);
    expect(stored.filter((row) => !(row as { rowKey: string }).rowKey.startsWith('d_'))).toHaveLength(1);
    const future = await post({ ...body(), checkSuiteId: randomUUID(), completedOn: new Date(env.clock.now().getTime() + 3_600_000).toISOString() }, pipelines);
    expect(future.status).toBe(400);
    expect(future.body.code).toBe('invalidCompletedOn');
  });

  it('refuses oversized, invalid and unauthorised ingestion and writes nothing', async () => {
    const pipelines = await env.appToken('pipelines');
    const countSuites = async () => {
      let n = 0;
      for await (const _ of env.app.storage
        .table(TABLES.auditLog)
        .listEntities({ queryOptions: { filter: odata`ActionId eq 'CheckSuite.Completed'`, select: ['RowKey'] } }))
        n++;
      return n;
    };
    const before = await countSuites();
    const huge = { ...body(), checkSuiteId: randomUUID() };
    huge.checkRuns[0]!.approvers = Array.from({ length: 6000 }, (_, i) => ({ ...approvers[0]!, id: randomUUID(), comment: 'y'.repeat(300 + (i % 3)) }));
    const tooLarge = await post(huge, pipelines);
    expect(tooLarge.status).toBe(413);
    expect(tooLarge.body.code).toBe('requestBodyTooLarge');

    const invalid = [
      { ...body(), checkSuiteId: randomUUID(), status: 'running' },
      { ...body(), checkSuiteId: randomUUID(), completedOn: 'soon' },
      { ...body(), checkSuiteId: randomUUID(), checkRuns: [] },
      { ...body(), checkSuiteId: randomUUID(), extra: true },
      { ...body(), checkSuiteId: randomUUID(), completedOn: '2030-01-01T00:00:00Z' },
      { ...body(), checkSuiteId: randomUUID(), projectId: randomUUID() },
    ];
    const codes = [];
    for (const payload of invalid) {
      const response = await post(payload, pipelines);
      expect(response.status).toBe(400);
      codes.push(response.body.code);
    }
    expect(codes).toEqual(['invalidRequestBody', 'invalidRequestBody', 'invalidRequestBody', 'invalidRequestBody', 'invalidCompletedOn', 'projectNotFound']);
    expect((await post('{"checkSuiteId":', pipelines)).status).toBe(400);
    expect((await post(body(), await env.appToken('gitserver'))).status).toBe(403);
    expect((await post(body(), await env.appToken('pipelines', { roles: ['Gatehouse.AuditIngest'] }))).status).toBe(200);
    const userCall = await post(body(), await token(alice.email));
    expect(userCall.status).toBe(403);
    expect(userCall.body.code).toBe('callerTypeNotAllowed');
    expect(await countSuites()).toBe(before);
  });
});

describe('tamper evidence', () => {
  const fabrikamEvent = (overrides: Partial<AuditEvent> = {}) =>
    event({
      organizationId: fabrikam.id,
      organizationName: fabrikam.name,
      scopeId: fabrikam.id,
      actor: { kind: 'user', id: user('erin@fabrikam.com').id, upn: 'erin@fabrikam.com', displayName: 'Erin Fabrikam', authenticationMechanism: 'EntraBearer' },
      ...overrides,
    });

  it('verify passes, then reports the first broken link after a row is altered or removed', async () => {
    const erin = await token('erin@fabrikam.com');
    const written = [];
    for (let i = 0; i < 6; i++) {
      const e = fabrikamEvent({ timestamp: new Date(env.clock.now().getTime() - i * HOUR).toISOString(), data: { DisplayName: `pat ${i}` } });
      written.push(await writeAuditEvent(env.app, e));
    }
    const big = fabrikamEvent({ data: { DisplayName: 'big', Blob: 'z'.repeat(40_000) } });
    const bigOutcome = await writeAuditEvent(env.app, big);

    const ok = await api.as(erin).get(`/fabrikam/_apis/audit/verify?${V}&startTime=2026-03-09T00:00:00Z`);
    expect(ok.status).toBe(200);
    expect(ok.body).toMatchObject({ intact: true, firstBrokenLink: null });
    expect(ok.body.eventsChecked).toBeGreaterThanOrEqual(7);

    // Alter one stored event directly in the table.
    const target = written[2]!;
    const table = env.app.storage.table(TABLES.auditLog);
    await table.updateEntity({ partitionKey: target.partitionKey, rowKey: target.rowKey, ActorDisplayName: 'Mallory' }, 'Merge');
    const altered = await api.as(erin).get(`/fabrikam/_apis/audit/verify?${V}&startTime=2026-03-09T00:00:00Z`);
    expect(altered.body.intact).toBe(false);
    expect(altered.body.firstBrokenLink).toMatchObject({ reason: 'hashMismatch', sequence: target.seq, eventId: expect.any(String) });

    // Repair it, then tamper with the large payload blob instead.
    await table.updateEntity({ partitionKey: target.partitionKey, rowKey: target.rowKey, ActorDisplayName: 'Erin Fabrikam' }, 'Merge');
    expect((await api.as(erin).get(`/fabrikam/_apis/audit/verify?${V}&startTime=2026-03-09T00:00:00Z`)).body.intact).toBe(true);
    const bigRow = await table.getEntity<{ DataBlob: string }>(bigOutcome.partitionKey, bigOutcome.rowKey);
    const blob = (await env.app.storage.blobs())!.getContainerClient('audit-payloads').getBlockBlobClient(bigRow.DataBlob);
    const original = (await blob.downloadToBuffer()).toString('utf8');
    const forged = original.replace('big', 'BIG');
    await blob.upload(forged, Buffer.byteLength(forged));
    const blobTampered = await api.as(erin).get(`/fabrikam/_apis/audit/verify?${V}&startTime=2026-03-09T00:00:00Z`);
    expect(blobTampered.body.firstBrokenLink).toMatchObject({ reason: 'dataMismatch', sequence: bigOutcome.seq });
    await blob.upload(original, Buffer.byteLength(original));

    // Remove an event: the chain has a gap.
    await table.deleteEntity(written[4]!.partitionKey, written[4]!.rowKey);
    const removed = await api.as(erin).get(`/fabrikam/_apis/audit/verify?${V}&startTime=2026-03-09T00:00:00Z`);
    expect(removed.body.intact).toBe(false);
    expect(removed.body.firstBrokenLink.reason).toBe('sequenceGap');
  });
});

describe('audit writer group commit', () => {
  it('appends concurrent events of one partition in shared transactions, each once, on an intact chain', async () => {
    const at = new Date(Date.parse(NOW) - 5 * DAY);
    const fabrikamEvent = (ms: number) => sampleAuditEvent(new Date(ms), { organizationId: fabrikam.id, organizationName: 'fabrikam', scopeId: fabrikam.id });
    // The first event of the day starts the chain (and warms the writer's settings and day index).
    expect((await writeAuditEvent(env.app, fabrikamEvent(at.getTime() - 1))).seq).toBe(1);
    const events = Array.from({ length: 40 }, (_, i) => fabrikamEvent(at.getTime() + i));
    const redelivered = events.slice(0, 5);
    const transactions = vi.spyOn(TableClient.prototype, 'submitTransaction');
    const outcomes = await Promise.all([...events, ...redelivered].map((event) => writeAuditEvent(env.app, event)));
    const appends = transactions.mock.calls.length;
    transactions.mockRestore();
    expect(outcomes.filter((outcome) => outcome.status === 'written')).toHaveLength(40);
    expect(outcomes.filter((outcome) => outcome.status === 'duplicate')).toHaveLength(5);
    expect(new Set(outcomes.map((outcome) => outcome.seq).filter((seq) => seq !== undefined))).toEqual(new Set(Array.from({ length: 40 }, (_, i) => i + 2)));
    // One event goes alone, those that arrive meanwhile go in groups of up to 32; the group holding the
    // redelivered events is refused whole and its events go one by one.
    expect(appends).toBeLessThan(20);
    const result = await verifyAuditChains(env.app, fabrikam.id, { startMs: at.getTime() - DAY, endMs: at.getTime() + DAY });
    expect(result).toMatchObject({ intact: true, eventsChecked: 41, firstBrokenLink: null });
  });
});
