import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TABLES } from '../../shared/storage/names.js';
import { readEntity } from '../../shared/storage/entities.js';
import { expiryKeys } from '../../shared/storage/expiry-keys.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';

/**
 * Storage faults under load: Azurite stopped and restarted while mixed requests run, and the audit
 * queue unavailable for a while. Requests fail cleanly, the service recovers without a restart,
 * and every token is whole (record, indexes, exactly one create event) or absent.
 */
let env: TestEnvironment;
const api = client(() => env);
let bob: string;
let alice: string;
beforeAll(async () => {
  env = await startTestEnvironment({
    persistentStorage: true,
    triggers: true,
    messageLeaseSeconds: 4,
    host: { maxPollingIntervalMs: 200, visibilityTimeoutSeconds: 0 },
  });
  bob = await env.userToken('bob@contoso.com', { lifetimeSeconds: 24 * 3600 });
  alice = await env.userToken('alice@contoso.com', { lifetimeSeconds: 24 * 3600 });
}, 60_000);
afterAll(async () => {
  await env?.stop();
});

const validTo = () => new Date(env.clock.now().getTime() + 20 * 24 * 3600_000).toISOString();

async function createPat(name: string) {
  const response = await api
    .as(bob)
    .post('/contoso/_apis/tokens/pats?api-version=7.1-preview.1', { displayName: name, scope: 'vso.code', validTo: validTo(), allOrgs: false });
  const body = response.body as { code?: string; patToken?: { authorizationId: string } | null };
  return { status: response.status, code: body.code, authorizationId: body.patToken?.authorizationId };
}

async function mixedRequest(i: number) {
  switch (i % 3) {
    case 0:
      return createPat(`load-${i}`);
    case 1: {
      const response = await api.as(bob).get('/contoso/_apis/tokens/pats?api-version=7.1-preview.1');
      return { status: response.status, code: (response.body as { code?: string }).code, authorizationId: undefined };
    }
    default: {
      const response = await api.as(alice).get('/contoso/_apis/projects?api-version=7.1');
      return { status: response.status, code: (response.body as { code?: string }).code, authorizationId: undefined };
    }
  }
}

async function records(): Promise<Map<string, Record<string, unknown>>> {
  const found = new Map<string, Record<string, unknown>>();
  for await (const row of env.app.storage.table(TABLES.pats).listEntities()) {
    if (String(row.rowKey).startsWith('pat_')) found.set(String(row.authorizationId), row);
  }
  return found;
}

async function createEventsByToken(): Promise<Map<string, number>> {
  const counts = new Map<string, number>();
  for await (const row of env.app.storage.table(TABLES.auditLog).listEntities()) {
    if (row.ActionId !== 'Token.PatCreateEvent') continue;
    const id = String((JSON.parse((row.Data as string | undefined) ?? '{}') as { AuthorizationId?: string }).AuthorizationId);
    counts.set(id, (counts.get(id) ?? 0) + 1);
  }
  return counts;
}

/** Lets the writer drain (deferred messages come back after a second or more) until `expected` holds (bounded). */
async function settle(expected?: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 20_000;
  do {
    env.clock.advance(60_000);
    await env.runtime.drainQueues(30_000);
    if (!expected || (await expected())) return;
    await new Promise((resolve) => setTimeout(resolve, 500));
  } while (Date.now() < deadline);
}

async function everyTokenHasItsEvent(): Promise<boolean> {
  const events = await createEventsByToken();
  return [...(await records()).keys()].every((id) => events.has(id));
}

describe('storage outage under load', () => {
  it('fails cleanly with 503 while storage is down and recovers without a restart, leaving no half-written token', async () => {
    const before = await Promise.all(Array.from({ length: 9 }, (_, i) => mixedRequest(i)));
    expect(before.every((r) => r.status === 200)).toBe(true);

    const staggered = (i: number) => new Promise((resolve) => setTimeout(resolve, i * 4)).then(() => mixedRequest(100 + i));
    const inFlight = Promise.all(Array.from({ length: 24 }, (_, i) => staggered(i)));
    await new Promise((resolve) => setTimeout(resolve, 40));
    await env.storageOutage.begin();
    const during = await Promise.all(Array.from({ length: 9 }, (_, i) => mixedRequest(200 + i)));
    expect(during.map((r) => r.status)).toEqual(Array(9).fill(503));
    expect(new Set(during.map((r) => r.code))).toEqual(new Set(['storageUnavailable']));
    const overlapping = await inFlight;
    expect(overlapping.every((r) => r.status === 200 || (r.status === 503 && r.code === 'storageUnavailable'))).toBe(true);

    await env.storageOutage.end();
    const after = await Promise.all(Array.from({ length: 9 }, (_, i) => mixedRequest(300 + i)));
    expect(after.map((r) => r.status)).toEqual(Array(9).fill(200));
    expect((await api.get('/health')).status).toBe(200);

    await settle(everyTokenHasItsEvent);
    const created = [...before, ...overlapping, ...after].filter((r) => r.status === 200 && r.authorizationId).map((r) => r.authorizationId!);
    const stored = await records();
    for (const id of created) expect(stored.has(id), `created token ${id} has its record`).toBe(true);
    const events = await createEventsByToken();
    for (const [id, record] of stored) {
      const expiry = expiryKeys(String(record.validTo), id);
      expect(await readEntity(env.app.storage.table(TABLES.patExpiry), expiry.partitionKey, expiry.rowKey), `expiry index of ${id}`).toBeDefined();
      expect(events.get(id), `create events of ${id}`).toBe(1);
    }
    for (const id of events.keys()) expect(stored.has(id), `event ${id} has its token`).toBe(true);
    console.log(
      `outage: ${overlapping.filter((r) => r.status === 503).length} of ${overlapping.length} overlapping requests failed cleanly; ${stored.size} tokens whole`,
    );
  }, 120_000);
});
