import { generateKeyPairSync, randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { createPat as createPatAs } from '../helpers/http.js';
import { DEMO_TENANT_ID } from '../../local/demo-data.js';
import { systemAuditContext } from '../../shared/audit/context.js';
import { type AuditEvent } from '../../shared/audit/events.js';
import { runLifecycle } from '../../shared/lifecycle/run.js';
import { createPatKind } from '../../shared/lifecycle/pat-kind.js';
import { TABLES } from '../../shared/storage/names.js';
import { PatRepository } from '../../shared/tokens/repository.js';
import { SshKeyRepository } from '../../shared/sshkeys/repository.js';
import { readEntity } from '../../shared/storage/entities.js';
import { rotatePat } from '../../shared/tokens/rotation.js';
import { BOB, DAVE } from '../helpers/demo.js';
import { deliverAuditQueue } from '../helpers/queues.js';

const HOUR = 3_600_000;
const DAY = 86_400_000;

let env: TestEnvironment;
const api = client(() => env);
const auditEvents: AuditEvent[] = [];

const at = (ms: number) => new Date(env.clock.now().getTime() + ms).toISOString();

/** Creates a PAT and lets the audit writer deliver its event (which indexes its expiry). */
async function createPat(email: string, validTo: string, displayName = `pat-${randomUUID().slice(0, 8)}`) {
  const pat = await createPatAs(env, { token: await env.userToken(email) }, { displayName, validTo });
  await drainAudit();
  return pat;
}

function opensshEd25519(): string {
  const { publicKey } = generateKeyPairSync('ed25519');
  const raw = Buffer.from(publicKey.export({ format: 'jwk' }).x as string, 'base64url');
  const part = (data: Buffer) => Buffer.concat([Buffer.from([0, 0, 0, data.length]), data]);
  return `ssh-ed25519 ${Buffer.concat([part(Buffer.from('ssh-ed25519')), part(raw)]).toString('base64')} test@gatehouse`;
}

async function drainAudit(): Promise<AuditEvent[]> {
  const drained = await deliverAuditQueue(env);
  auditEvents.push(...drained);
  return drained;
}

const eventsFor = (actionId: string, id: string) => auditEvents.filter((event) => event.actionId === actionId && event.data.AuthorizationId === id);

async function expiryRowCount(table: string): Promise<number> {
  let count = 0;
  for await (const _row of env.app.storage.table(table).listEntities()) count++;
  return count;
}

beforeAll(async () => {
  env = await startTestEnvironment({ now: '2025-03-01T10:00:00.000Z' });
});
afterAll(async () => {
  await env?.stop();
});

describe('lifecycle sweep', () => {
  it('expires each due PAT exactly once when two runs overlap', async () => {
    const pats = await Promise.all([1, 2, 3, 4].map(() => createPat('dave@contoso.com', at(HOUR))));
    const later = await createPat('dave@contoso.com', at(30 * DAY));
    env.clock.advance(2 * HOUR);
    const [first, second] = await Promise.all([runLifecycle(env.app), runLifecycle(env.app)]);
    expect(first.counters.expired + second.counters.expired).toBe(4);
    // Both invocations through the runtime as the host would run them, again concurrently: nothing left.
    await Promise.all([env.runtime.invoke('lifecycle'), env.runtime.invoke('lifecycle')]);
    await drainAudit();
    for (const pat of pats) {
      expect(eventsFor('Token.PatExpiredEvent', pat.authorizationId)).toHaveLength(1);
      const stored = await new PatRepository(env.app).get(DAVE.id, pat.authorizationId);
      expect(stored?.record.expiredEventAt).toBeTruthy();
    }
    expect(eventsFor('Token.PatExpiredEvent', later.authorizationId)).toHaveLength(0);
    expect(await expiryRowCount(TABLES.patExpiry)).toBe(1);
    const event = eventsFor('Token.PatExpiredEvent', pats[0]!.authorizationId)[0]!;
    expect(event).toMatchObject({ area: 'Token', category: 'modify', actor: { kind: 'system' }, organizationName: 'contoso' });
    expect(event.data).toMatchObject({ OwnerId: DAVE.id, ValidTo: pats[0]!.validTo });
  });

  it('resumes a run cut short by its item budget and one that died between marking and cleaning up', async () => {
    const pats = await Promise.all([1, 2, 3, 4, 5].map(() => createPat('bob@contoso.com', at(HOUR))));
    env.clock.advance(2 * HOUR);
    const cut = await runLifecycle(env.app, { maxItems: 2, reminders: false });
    expect(cut.counters.expired).toBe(2);
    expect(cut.counters.budgetExhausted).toBe(true);

    // The next run dies after marking one item, before deleting its index row.
    let crashed = false;
    const died = await runLifecycle(env.app, {
      reminders: false,
      hooks: {
        afterFinalise: (_entry, outcome) => {
          if (outcome === 'expired' && !crashed) {
            crashed = true;
            throw new Error('simulated crash');
          }
        },
      },
    }).catch((error: unknown) => error);
    expect(died).toBeInstanceOf(Error);
    expect(crashed).toBe(true);

    const resumed = await runLifecycle(env.app, { reminders: false });
    expect(resumed.counters.expired).toBe(0);
    expect(resumed.counters.alreadyDone).toBe(1);
    await drainAudit();
    for (const pat of pats) expect(eventsFor('Token.PatExpiredEvent', pat.authorizationId)).toHaveLength(1);
    const again = await runLifecycle(env.app, { reminders: false });
    expect(again.counters.indexRowsRead).toBe(0);
    expect(BOB.id).toBeTruthy();
  });

  it('reads the due items and the buckets, never the tokens that are not due', async () => {
    const measure = async (notDue: number) => {
      await Promise.all(Array.from({ length: notDue }, (_, i) => createPat('bob@contoso.com', at((40 + (i % 5)) * DAY))));
      await Promise.all([1, 2, 3].map(() => createPat('bob@contoso.com', at(HOUR))));
      env.clock.advance(2 * HOUR);
      const report = await runLifecycle(env.app, { reminders: false, kinds: [createPatKind()] });
      expect(report.counters.expired).toBe(3);
      return report;
    };
    const small = await measure(5);
    const large = await measure(40);
    expect(small.counters.indexRowsRead).toBe(3);
    expect(large.counters.indexRowsRead).toBe(3);
    expect(large.counters.itemsRead).toBe(small.counters.itemsRead);
    expect(large.entitiesRead).toBe(small.entitiesRead);
    expect(large.entitiesRead).toBeLessThan(15);
    // The cursor records the last closed bucket; the next run seeks from there.
    const cursor = await readEntity<{ value: string }>(env.app.storage.table(TABLES.lifecycle), 'cursor', 'expiry_pat');
    expect(cursor?.value).toMatch(/^\d{10}$/);
  });

  it('expires SSH keys through the SSH key module, exactly once', async () => {
    const reply = await api.asUser('dave@contoso.com').post('/contoso/_apis/tokens/sshkeys?api-version=7.1-preview.1', {
      displayName: 'laptop',
      publicData: opensshEd25519(),
      validTo: at(HOUR),
    });
    expect(reply.status, JSON.stringify(reply.body)).toBe(200);
    const id = reply.body.sshKey.authorizationId as string;
    env.clock.advance(2 * HOUR);
    const runs = await Promise.all([runLifecycle(env.app, { reminders: false }), runLifecycle(env.app, { reminders: false })]);
    expect(runs.reduce((sum, run) => sum + run.counters.expired, 0)).toBe(1);
    await drainAudit();
    expect(eventsFor('Token.SshExpireEvent', id)).toHaveLength(1);
    expect((await new SshKeyRepository(env.app).get(DAVE.id, id))?.record.expiredEventAt).toBeTruthy();
    expect(await expiryRowCount(TABLES.sshExpiry)).toBe(0);
  });

  it('ends the grace window of a rotated PAT when its grace row comes due', async () => {
    const pat = await createPat('dave@contoso.com', at(20 * DAY), 'to-rotate');
    const organization = (await env.app.directory.getOrganizationByName('contoso'))!;
    const successor = await rotatePat(env.app, {
      organization,
      audit: systemAuditContext(),
      ownerId: DAVE.id,
      owner: { displayName: DAVE.displayName, email: DAVE.email, tenantId: DEMO_TENANT_ID },
      authorizationId: pat.authorizationId,
      gracePeriodMinutes: 60,
      idempotencyKey: undefined,
      mayExtend: true,
    });
    expect(successor.authorizationId).not.toBe(pat.authorizationId);
    await drainAudit();
    const rotated = await new PatRepository(env.app).get(DAVE.id, pat.authorizationId);
    expect(rotated?.record.graceEndsAt).toBe(at(HOUR));
    env.clock.advance(2 * HOUR);
    const report = await runLifecycle(env.app, { reminders: false });
    expect(report.counters.graceEnded).toBe(1);
    const after = await new PatRepository(env.app).get(DAVE.id, pat.authorizationId);
    expect(after?.record.revokedAt).toBeTruthy();
    expect(after?.record.expiredEventAt ?? null).toBeNull();
    await drainAudit();
    expect(eventsFor('Token.PatSystemRevokeEvent', pat.authorizationId)).toHaveLength(1);
    expect(eventsFor('Token.PatExpiredEvent', pat.authorizationId)).toHaveLength(0);
  });
});
