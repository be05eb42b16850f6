import { odata } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { sampleAuditEvent } from '../helpers/audit.js';
import { demoUser } from '../helpers/demo.js';
import { DEMO_ORGANIZATIONS } from '../../local/demo-data.js';
import { generatePepperSetting } from '../../local/dev-secrets.js';
import { createAppContext } from '../../shared/app-context.js';
import { loadConfig } from '../../shared/config.js';
import type { AuditEvent } from '../../shared/audit/events.js';
import { chainContentOf, writeAuditEvent } from '../../shared/audit/writer.js';
import { chainHash, canonicalJson, sha256Hex } from '../../shared/audit/chain.js';
import { checkpointBlobName, readDayCheckpoints } from '../../shared/audit/checkpoints.js';
import { verifyAuditChains } from '../../shared/audit/verify.js';
import { eventRowKey, type AuditRow } from '../../shared/audit/repository.js';
import { CONTAINERS, TABLES } from '../../shared/storage/names.js';
import { verifyResultSchema } from '../../functions/audit-verify.js';

// Tamper evidence against someone who can write the audit table: every attack below is reported
// as intact by a verify that trusts the table alone, and as broken once checkpoints exist outside it.

const V = 'api-version=7.1-preview.1';
const fabrikam = DEMO_ORGANIZATIONS[1];
const erin = demoUser('erin@fabrikam.com');
const NOW = '2026-03-10T12:00:00.000Z';
const HOUR = 3_600_000;

let env: TestEnvironment;

beforeAll(async () => {
  env = await startTestEnvironment({ triggers: true, now: NOW, host: { maxPollingIntervalMs: 200 } });
});
afterAll(async () => {
  await env?.stop();
});

const auditLog = () => env.app.storage.table(TABLES.auditLog);
const checkpointContainer = async () => (await env.app.storage.blobs())!.getContainerClient(CONTAINERS.auditCheckpoints);
const partitionOf = (day: string) => `${fabrikam.id}|${day.replace(/-/g, '')}`;

function fabrikamEvent(at: Date, overrides: Partial<AuditEvent> = {}): AuditEvent {
  return sampleAuditEvent(at, {
    organizationId: fabrikam.id,
    organizationName: fabrikam.name,
    scopeId: fabrikam.id,
    actor: { kind: 'user', id: erin.id, upn: erin.email, displayName: 'Erin Fabrikam', authenticationMechanism: 'EntraBearer' },
    ...overrides,
  });
}

/** Writes `count` events an hour apart on `day` (yyyy-MM-dd) through the writer, which checkpoints each. */
async function writeDay(day: string, count: number, data: (i: number) => Record<string, unknown> = (i) => ({ DisplayName: `event ${i}` })) {
  for (let i = 0; i < count; i++) {
    const outcome = await writeAuditEvent(env.app, fabrikamEvent(new Date(Date.parse(`${day}T01:00:00Z`) + i * HOUR), { data: data(i) }));
    expect(outcome.status).toBe('written');
  }
}

/** The day's event rows in chain order, as plain entities (without the ETag and timestamp the SDK adds). */
async function chainRows(day: string): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  const partition = partitionOf(day);
  for await (const { etag: _etag, timestamp: _timestamp, ...row } of auditLog().listEntities<AuditRow>({
    queryOptions: { filter: odata`PartitionKey eq ${partition} and RowKey ge 'e_' and RowKey lt 'e_~'` },
  })) {
    rows.push(row);
  }
  return rows.sort((a, b) => a.Seq - b.Seq);
}

async function setHead(day: string, seq: number, hash: string) {
  await auditLog().upsertEntity({ partitionKey: partitionOf(day), rowKey: 'head', Seq: seq, Hash: hash, UpdatedAt: new Date().toISOString() }, 'Replace');
}

/** Rewrites an event's data as an attacker with table access would (row only, nothing recomputed). */
function rewriteData(row: AuditRow, data: Record<string, unknown>): AuditRow {
  const json = canonicalJson(data);
  return { ...row, Data: json, DataSha256: sha256Hex(json), DataLength: json.length };
}

/** Recomputes every hash from `rows[0]` on and the head, as anyone can: the chain is unkeyed. */
async function recomputeChain(day: string, rows: AuditRow[], previousHash: string) {
  let previous = previousHash;
  for (const row of rows) {
    const hash = chainHash(previous, chainContentOf(row));
    await auditLog().upsertEntity({ ...row, PrevHash: previous, Hash: hash }, 'Replace');
    previous = hash;
  }
  const last = rows.at(-1)!;
  await setHead(day, last.Seq, previous);
}

async function verify(day: string) {
  const response = await env.fetch(`/fabrikam/_apis/audit/verify?${V}&startTime=${day}T00:00:00Z&endTime=${day}T23:59:59Z`, {
    token: await env.userToken(erin.email),
  });
  expect(response.status).toBe(200);
  return (await response.json()) as any;
}

async function checkpointNames(day: string): Promise<string[]> {
  const names: string[] = [];
  for await (const blob of (await checkpointContainer()).listBlobsFlat({ prefix: `${fabrikam.id}/${day.replace(/-/g, '')}/` })) names.push(blob.name);
  return names;
}

describe('checkpoints outside the audit table', () => {
  it('keeps an untouched log intact across checkpoints and says what they cover', async () => {
    const day = '2026-03-02';
    await writeDay(day, 3);
    const first = await verify(day);
    expect(first).toMatchObject({ intact: true, firstBrokenLink: null, eventsChecked: 3 });
    // The declared response schema (OpenAPI) describes what is returned.
    expect(verifyResultSchema.strict().safeParse(first).success, JSON.stringify(first)).toBe(true);
    expect(first.checkpointCoverage).toMatchObject({ available: true, checked: 3, unverifiable: 0, eventsCovered: 3, eventsNotCovered: 0 });
    expect(Date.parse(first.checkpointCoverage.latestCheckpointTime)).not.toBeNaN();
    expect(first.chains).toEqual([
      { day: '20260302', events: 3, headHash: (await chainRows(day)).at(-1)!.Hash, checkpointedSequence: 3, checkpointedAt: expect.any(String) },
    ]);

    // More events later on the same day (a late delivery), and a timer run in between.
    await env.runtime.invoke('lifecycle');
    await writeDay(day, 2, (i) => ({ DisplayName: `late ${i}` }));
    const later = await verify(day);
    expect(later).toMatchObject({ intact: true, eventsChecked: 5 });
    expect(later.checkpointCoverage).toMatchObject({ checked: 5, eventsCovered: 5, eventsNotCovered: 0 });
  });

  it('reports an event inserted beyond the chain head of a past day', async () => {
    const day = '2026-03-03';
    await writeDay(day, 4);
    const [, , , last] = await chainRows(day);
    // A well-formed fifth link, hashes and all; only the head is left as it was.
    const forged = fabrikamEvent(new Date(`${day}T20:00:00Z`), { data: { DisplayName: 'backdated grant' } });
    const row = {
      ...last!,
      EventId: forged.id,
      EventTime: forged.timestamp,
      rowKey: eventRowKey(Date.parse(forged.timestamp), forged.id),
      Seq: 5,
      PrevHash: last!.Hash,
    };
    await auditLog().createEntity({ ...row, Hash: chainHash(last!.Hash, chainContentOf(row)) });

    const result = await verify(day);
    expect(result.intact).toBe(false);
    expect(result.firstBrokenLink).toMatchObject({ day: '20260303', reason: 'eventBeyondHead', sequence: 5, eventId: forged.id });
  });

  it('reports a head moved back one link with the last event rewritten (no hash recomputed)', async () => {
    const day = '2026-03-04';
    await writeDay(day, 4, (i) => ({ DisplayName: `grant ${i}`, Decision: 'rejected' }));
    const rows = await chainRows(day);
    const last = rows[3]!;
    // Rejected becomes approved, by someone else; the head now ends before the rewritten event.
    await auditLog().upsertEntity(
      { ...rewriteData(last, { DisplayName: 'grant 3', Decision: 'approved' }), ActorDisplayName: 'Mallory', ActorUpn: 'mallory@fabrikam.com' },
      'Replace',
    );
    await setHead(day, 3, rows[2]!.Hash);

    const result = await verify(day);
    expect(result.intact).toBe(false);
    expect(result.firstBrokenLink).toMatchObject({ day: '20260304', reason: 'headBehindCheckpoint', sequence: 3 });
    expect(result.firstBrokenLink.message).toMatch(/head records 3 events, but a checkpoint of .* proves 4/);
  });

  it('reports a rewritten event even when the whole chain of its day and the head were recomputed', async () => {
    const day = '2026-03-05';
    await writeDay(day, 5);
    const rows = await chainRows(day);
    const rewritten = { ...rows[1]!, ActorDisplayName: 'Someone Else', ActorUpn: 'someone@fabrikam.com' };
    await recomputeChain(day, [rewritten, ...rows.slice(2)], rows[0]!.Hash);
    // The table alone is consistent again: every hash, every link and the head agree.
    const table = await chainRows(day);
    for (let i = 1; i < table.length; i++) expect(table[i]!.PrevHash).toBe(table[i - 1]!.Hash);

    const result = await verify(day);
    expect(result.intact).toBe(false);
    expect(verifyResultSchema.strict().safeParse(result).success, JSON.stringify(result)).toBe(true);
    expect(result.firstBrokenLink).toMatchObject({ day: '20260305', reason: 'checkpointMismatch', sequence: 2, eventId: rows[1]!.EventId });
  });

  it('reports a day removed with its index row, and checkpoints that Gatehouse did not sign', async () => {
    const gone = '2026-03-06';
    await writeDay(gone, 2);
    for (const row of await chainRows(gone)) await auditLog().deleteEntity(row.partitionKey, row.rowKey);
    for await (const row of auditLog().listEntities({ queryOptions: { filter: odata`PartitionKey eq ${partitionOf(gone)}` } })) {
      await auditLog().deleteEntity(row.partitionKey!, row.rowKey!);
    }
    await env.app.storage.table(TABLES.auditDays).deleteEntity(fabrikam.id, '20260306');
    const removed = await verify(gone);
    expect(removed).toMatchObject({ intact: false, daysChecked: 1, eventsChecked: 0 });
    expect(removed.firstBrokenLink).toMatchObject({ day: '20260306', reason: 'headBehindCheckpoint' });

    const day = '2026-03-07';
    await writeDay(day, 2);
    const container = await checkpointContainer();
    // A checkpoint for a later link, well named, but signed with a key that is not Gatehouse's.
    const forged = checkpointBlobName({ organizationId: fabrikam.id, day: '20260307', sequence: 9, headHash: 'a'.repeat(64) }, '1', 'b'.repeat(64));
    await container.getBlockBlobClient(forged).upload('{}', 2);
    const result = await verify(day);
    expect(result.intact).toBe(false);
    expect(result.firstBrokenLink).toMatchObject({ day: '20260307', reason: 'checkpointInvalid', sequence: 9 });
    await container.getBlockBlobClient(forged).delete();
    expect((await verify(day)).intact).toBe(true);
  });

  it('keeps checkpoints verifiable after a pepper rotation while the old pepper is configured', async () => {
    const day = '2026-03-08';
    await writeDay(day, 2);
    const window = { startMs: Date.parse(`${day}T00:00:00Z`), endMs: Date.parse(`${day}T23:59:59Z`) };
    const rotated = createAppContext(loadConfig({ ...env.settings, TOKEN_PEPPERS: `${generatePepperSetting('2')},${env.settings.TOKEN_PEPPERS}` }), {
      clock: env.clock,
      log: env.app.log,
    });
    expect(await verifyAuditChains(rotated, fabrikam.id, window)).toMatchObject({
      intact: true,
      checkpointCoverage: { checked: 2, unverifiable: 0, eventsCovered: 2 },
    });

    // Once the old version is gone its checkpoints prove nothing, and say so, without calling the log broken.
    const newOnly = createAppContext(loadConfig({ ...env.settings, TOKEN_PEPPERS: generatePepperSetting('2') }), { clock: env.clock, log: env.app.log });
    expect(await verifyAuditChains(newOnly, fabrikam.id, window)).toMatchObject({
      intact: true,
      checkpointCoverage: { checked: 0, unverifiable: 2, eventsCovered: 0, eventsNotCovered: 2 },
    });
  });
});

describe('checkpoints in the normal flow', () => {
  const today = '2026-03-10';
  // Called directly: the HTTP route would add its own access event to today's chain meanwhile.
  const verifyToday = () => verifyAuditChains(env.app, fabrikam.id, { startMs: Date.parse(`${today}T00:00:00Z`), endMs: Date.parse(`${today}T23:59:59Z`) });

  it('are written by the audit writer for the events an API call produces', async () => {
    const response = await env.fetch(`/fabrikam/_apis/tokens/pats?${V}`, {
      method: 'POST',
      token: await env.userToken(erin.email),
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'anchored', scope: 'vso.code', validTo: '2026-04-01T00:00:00Z', allOrgs: false }),
    });
    expect(response.status).toBe(200);
    await env.runtime.drainQueues();
    const rows = await chainRows(today);
    expect(rows.some((row) => row.ActionId === 'Token.PatCreateEvent')).toBe(true);
    const checkpoints = await readDayCheckpoints(env.app, fabrikam.id, '20260310');
    expect(checkpoints?.valid.at(-1)).toMatchObject({ sequence: rows.at(-1)!.Seq, headHash: rows.at(-1)!.Hash, keyVersion: '1' });
  });

  it('are written by the lifecycle timer for appends whose checkpoint is missing, never for a tampered day', async () => {
    await writeDay(today, 2);
    await env.runtime.drainQueues();
    // Checkpoints that could not be written (Azurite enforces no immutability, so they can be removed here).
    const container = await checkpointContainer();
    for (const name of await checkpointNames(today)) await container.getBlockBlobClient(name).delete();
    expect((await verifyToday()).checkpointCoverage).toMatchObject({ checked: 0, eventsCovered: 0 });

    await env.runtime.invoke('lifecycle');
    const head = (await chainRows(today)).at(-1)!;
    const anchored = await readDayCheckpoints(env.app, fabrikam.id, '20260310');
    expect(anchored?.valid.map((checkpoint) => checkpoint.sequence)).toEqual([head.Seq]);
    expect((await verifyToday()).checkpointCoverage).toMatchObject({ checked: 1, eventsCovered: head.Seq, eventsNotCovered: 0 });

    // A day rewritten with its hashes recomputed is logged and left unanchored.
    const rows = await chainRows(today);
    await recomputeChain(today, [{ ...rows[0]!, ActorDisplayName: 'Mallory' }, ...rows.slice(1)], rows[0]!.PrevHash);
    const before = await checkpointNames(today);
    const logged = env.logs.length;
    await env.runtime.invoke('lifecycle');
    expect(await checkpointNames(today)).toEqual(before);
    expect(env.logs.slice(logged).some((line) => line.includes('audit chain broken: day not checkpointed') && line.includes('checkpointMismatch'))).toBe(true);
    expect((await verifyToday()).firstBrokenLink).toMatchObject({ reason: 'checkpointMismatch', sequence: head.Seq });
  });
});
