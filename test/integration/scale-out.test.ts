import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRow } from '../../shared/audit/repository.js';
import { TABLES } from '../../shared/storage/names.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { createPat } from '../helpers/http.js';
import { ALICE, BOB, DAVE } from '../helpers/demo.js';
import { PatRepository } from '../../shared/tokens/repository.js';
import { createAppContext } from '../../shared/app-context.js';
import { manualClock } from '../../shared/clock.js';
import { loadConfig } from '../../shared/config.js';
import { createLogger } from '../../shared/logging.js';
import { stopChangeFeed } from '../../shared/coherence/changes.js';
import { dayKey, partitionKeyOf, auditDaysTable, type AuditRow as StoredAuditRow } from '../../shared/audit/repository.js';
import { writeAuditEvent } from '../../shared/audit/writer.js';
import { sampleAuditEvent } from '../helpers/audit.js';
import { CONTOSO } from '../helpers/demo.js';
import { client } from '../helpers/client.js';

/** Three runtime processes on one storage account, as the host scales out. */
let cluster: TestCluster;

/** Last-used refreshes every 2 s instead of every minute, so the loss bound is seen within seconds. */
const LAST_USED_WRITE_SECONDS = 2;

beforeAll(async () => {
  cluster = await startTestCluster({ instances: 3, settings: { PAT_LAST_USED_WRITE_SECONDS: String(LAST_USED_WRITE_SECONDS) } });
}, 120_000);
afterAll(async () => {
  await cluster?.stop();
});

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

async function storedAuditRows(): Promise<AuditRow[]> {
  const rows: AuditRow[] = [];
  for await (const row of cluster.app.storage.table(TABLES.auditLog).listEntities<AuditRow>()) {
    if (typeof row.EventId === 'string') rows.push(row);
  }
  return rows;
}

/** Waits until `done` holds for the stored audit rows (the writers run on their own). */
async function waitForAudit(done: (rows: AuditRow[]) => boolean, timeoutMs = 30_000): Promise<AuditRow[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const rows = await storedAuditRows();
    if (done(rows) || Date.now() > deadline) return rows;
    await sleep(250);
  }
}

describe('scale-out: three instances behind one port', () => {
  it('spreads requests round-robin over three processes', async () => {
    const token = await cluster.userToken('alice@contoso.com');
    const before = cluster.logs.length;
    for (let i = 0; i < 6; i++) {
      const response = await client(cluster).as(token).get('/contoso/_apis/projects?api-version=7.1');
      expect(response.status).toBe(200);
    }
    await sleep(200);
    const served = new Set(
      cluster.logs
        .slice(before)
        .filter((line) => line.includes('"message":"invocation"') && line.includes('projects'))
        .map((line) => /^\[(instance-\d)\]/.exec(line)?.[1]),
    );
    expect(served).toEqual(new Set(['instance-1', 'instance-2', 'instance-3']));
  });

  it('stores every audit event exactly once with the writer competing on all three', async () => {
    const token = await cluster.userToken('alice@contoso.com');
    const pats = await Promise.all(Array.from({ length: 48 }, (_, i) => createPat(cluster, { token }, { displayName: `scale-${i}` })));
    const ids = new Set(pats.map((pat) => pat.authorizationId));
    const created = (rows: AuditRow[]) => rows.filter((row) => row.ActionId === 'Token.PatCreateEvent' && [...ids].some((id) => (row.Data ?? '').includes(id)));
    const rows = await waitForAudit((found) => created(found).length >= ids.size);
    await sleep(1000);
    const settled = created(await storedAuditRows());
    expect(settled).toHaveLength(ids.size);
    const eventIds = settled.map((row) => row.EventId);
    expect(new Set(eventIds).size).toBe(eventIds.length);
    // The hash chain of the organization's log has no gap and no repeat.
    const seqs = rows.filter((row) => row.OrganizationId === settled[0]!.OrganizationId).map((row) => row.Seq);
    expect(new Set(seqs).size).toBe(seqs.length);
    // All three consumed: each instance logged audit-writer invocations.
    const writers = new Set(cluster.logs.filter((line) => line.includes('"function":"audit-writer"')).map((line) => /^\[(instance-\d)\]/.exec(line)?.[1]));
    expect(writers.size).toBeGreaterThanOrEqual(2);
  });
});

/** Runs a timer function on all three instances at once (as if the singleton lease had lapsed mid-run). */
const onAllThree = (name: string) => Promise.all([0, 1, 2].map((instance) => cluster.invoke(instance, name)));

const dataOf = (row: AuditRow) => JSON.parse(row.Data ?? '{}') as Record<string, unknown>;

describe('correctness with three instances running the timers at once', () => {
  it('expires each token once and sends each reminder rung once', async () => {
    const token = await cluster.userToken('bob@contoso.com');
    const soon = () => new Date(Date.now() + 6000).toISOString();
    const expiring = await Promise.all([1, 2, 3].map(() => createPat(cluster, { token }, { validTo: soon() })));
    const reminded = await createPat(cluster, { token }, { validTo: new Date(Date.now() + 86_400_000 + 6000).toISOString() });
    const ids = [...expiring, reminded].map((pat) => pat.authorizationId);
    // The writer indexes each expiry when it stores the creation event.
    await waitForAudit((rows) => ids.every((id) => rows.some((row) => row.ActionId === 'Token.PatCreateEvent' && dataOf(row).AuthorizationId === id)));
    await cluster.invoke(0, 'lifecycle'); // starts the reminder cursors before the 1-day rung's moment
    await sleep(Math.max(0, Date.parse(expiring[2]!.validTo) - Date.now()) + 1500);
    await onAllThree('lifecycle');
    await onAllThree('lifecycle');

    const expired = (rows: AuditRow[], id: string) => rows.filter((row) => row.ActionId === 'Token.PatExpiredEvent' && dataOf(row).AuthorizationId === id);
    await waitForAudit((found) => expiring.every((pat) => expired(found, pat.authorizationId).length >= 1));
    await sleep(1500);
    const settled = await storedAuditRows();
    for (const pat of expiring) expect(expired(settled, pat.authorizationId), pat.authorizationId).toHaveLength(1);

    // The 1-day reminder reached the owner's inbox once (the 30- and 7-day rungs were behind it when it was made).
    const deadline = Date.now() + 15_000;
    let notices: Record<string, unknown>[] = [];
    while (Date.now() < deadline) {
      notices = [];
      for await (const row of cluster.app.storage.table(TABLES.notificationInbox).listEntities()) {
        if (row.noticeRowKey === undefined && JSON.stringify(row).includes(reminded.authorizationId)) notices.push(row);
      }
      if (notices.length > 0) break;
      await sleep(250);
    }
    await sleep(1500);
    let again = 0;
    for await (const row of cluster.app.storage.table(TABLES.notificationInbox).listEntities()) {
      if (row.noticeRowKey === undefined && JSON.stringify(row).includes(reminded.authorizationId)) again++;
    }
    expect(notices).toHaveLength(1);
    expect(again).toBe(1);
  });

  it('reviews each grant request once', async () => {
    const alice = await cluster.userToken('alice@contoso.com');
    const name = `grants-${Date.now().toString(36)}`;
    const post = (path: string, body: unknown) => client(cluster).as(alice).post(path, body);
    expect((await post(`/_apis/organizations?${V}`, { name })).status).toBe(201);
    expect((await post(`/${name}/_apis/projects?${V}`, { name: 'lib', visibility: 'public' })).status).toBe(201);
    const submitted = await post(`/${name}/_apis/pipelines/freegrantrequests?${V}`, {
      requesterName: 'Alice Admin',
      requesterEmail: `requester-${Date.now().toString(36)}@contoso.com`,
      projects: ['lib'],
      repositories: [`https://github.com/owner-${Date.now().toString(36)}/parser`],
      description: 'An open-source parser library with a public CI pipeline, tests on every pull request and releases to npm.',
    });
    expect(submitted.status, submitted.text).toBe(201);
    const requestId = submitted.body.id as string;
    await sleep(1000);
    await onAllThree('grant-review');
    await onAllThree('grant-review');
    const reviews = (rows: AuditRow[]) =>
      rows.filter((row) => /^Pipelines\.FreeGrant(Approved|Rejected|ManualReview)$/.test(row.ActionId) && dataOf(row).RequestId === requestId);
    await waitForAudit((rows) => reviews(rows).length >= 1);
    await sleep(1500);
    expect(reviews(await storedAuditRows())).toHaveLength(1);
  });

  it('loses no last-used IP when three instances record uses of one token at once', async () => {
    const pat = await createPat(cluster, { token: await cluster.userToken('bob@contoso.com') });
    const ips = ['203.0.113.1', '203.0.113.2', '203.0.113.3'];
    const statuses = await Promise.all(
      ips.map((ip, instance) =>
        onInstance(instance)
          .as(pat.token)
          .get('/contoso/_apis/connectionData', { headers: { 'x-forwarded-for': ip } })
          .then((r) => r.status),
      ),
    );
    expect(statuses).toEqual([200, 200, 200]);
    const repository = new PatRepository(cluster.app);
    const deadline = Date.now() + 10_000;
    let recent: string[] = [];
    while (Date.now() < deadline) {
      recent = (await repository.getUsage(BOB.id, pat.authorizationId))?.recentIps ?? [];
      if (recent.length >= 3) break;
      await sleep(200);
    }
    expect([...recent].sort()).toEqual(ips);
    const newIp = (rows: AuditRow[]) =>
      rows.filter((row) => row.ActionId === 'Token.PatUsedFromNewIpEvent' && dataOf(row).AuthorizationId === pat.authorizationId);
    await waitForAudit((rows) => newIp(rows).length >= 3);
    await sleep(1000);
    expect(newIp(await storedAuditRows())).toHaveLength(3);
  });

  it('purges each expired audit day once with three retention runs at once', async () => {
    const DAY = 86_400_000;
    const clock = manualClock(new Date(Date.now() - 100 * DAY));
    const past = createAppContext(loadConfig(cluster.settings), { clock, log: createLogger('warn', () => undefined) });
    const days: string[] = [];
    try {
      for (let d = 0; d < 2; d++) {
        days.push(dayKey(clock.now().getTime()));
        for (let i = 0; i < 3; i++) {
          await Promise.all(Array.from({ length: 25 }, () => writeAuditEvent(past, sampleAuditEvent(clock.now(), { organizationId: CONTOSO }))));
        }
        clock.advance(DAY);
      }
    } finally {
      await stopChangeFeed(past);
    }
    const partitionSize = async (day: string) => {
      let count = 0;
      for await (const _row of cluster.app.storage
        .table(TABLES.auditLog)
        .listEntities<StoredAuditRow>({ queryOptions: { filter: `PartitionKey eq '${partitionKeyOf(CONTOSO, day)}'` } }))
        count++;
      return count;
    };
    for (const day of days) expect(await partitionSize(day)).toBeGreaterThanOrEqual(75);
    const before = cluster.logs.length;
    await onAllThree('audit-retention');
    for (const day of days) {
      expect(await partitionSize(day), day).toBe(0);
      await expect(auditDaysTable(cluster.app).getEntity(CONTOSO, day)).rejects.toMatchObject({ statusCode: 404 });
    }
    // Each expired day was purged by exactly one of the three runs.
    const runs = cluster.logs.slice(before).filter((line) => line.includes('audit retention run'));
    expect(runs).toHaveLength(3);
    const purged = runs.map((line) => Number(/"daysPurged":(\d+)/.exec(line)?.[1] ?? NaN));
    expect(purged.reduce((a, b) => a + b, 0)).toBe(days.length);
  });
});

const PATS = '/contoso/_apis/tokens/pats?api-version=7.1-preview.1';
const V = 'api-version=7.1';
const inDays = (days: number) => new Date(Date.now() + days * 86_400_000).toISOString();

/** A client aimed at one instance (0 = A, 1 = B, 2 = C). */
const onInstance = (instance: number) => client({ ...cluster.on(instance), userToken: (email, options) => cluster.userToken(email, options) });

const useOn = (instance: number, pat: string) =>
  onInstance(instance)
    .as(pat)
    .get('/contoso/_apis/connectionData')
    .then((response) => response.status);

/**
 * Warms the caches of B and C with the PAT, makes `change` on A, and answers how long after A
 * answered each of B and C first refused the PAT.
 */
async function propagation(pat: string, change: () => Promise<void>): Promise<number[]> {
  for (const instance of [1, 2]) {
    expect(await useOn(instance, pat)).toBe(200);
    expect(await useOn(instance, pat)).toBe(200);
  }
  await change();
  const answeredAt = Date.now();
  return Promise.all(
    [1, 2].map(async (instance) => {
      while (Date.now() - answeredAt < 5000) {
        if ((await useOn(instance, pat)) !== 200) return Date.now() - answeredAt;
        await sleep(20);
      }
      return Infinity;
    }),
  );
}

describe('coherence: a change on one instance holds on all within a second', () => {
  it('a PAT revoked by its owner on A is refused on B and C', async () => {
    const pat = await createPat(cluster, { token: await cluster.userToken('alice@contoso.com') });
    const delays = await propagation(pat.token, async () => {
      expect((await onInstance(0).asUser('alice@contoso.com').delete(`${PATS}&authorizationId=${pat.authorizationId}`)).status).toBe(204);
    });
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(1000);
  });

  it('a revocation rule added on A is applied on B and C', async () => {
    const pat = await createPat(cluster, { token: await cluster.userToken('bob@contoso.com') }, { scope: 'vso.wiki' });
    const delays = await propagation(pat.token, async () => {
      const rule = await onInstance(0)
        .asUser('alice@contoso.com')
        .post(`/contoso/_apis/tokenadmin/revocationrules?${V}`, { scopes: 'vso.wiki', createdBefore: inDays(1) });
      expect(rule.status, rule.text).toBe(201);
    });
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(1000);
  });

  it('a member removed on A can no longer use a PAT on B and C', async () => {
    const pat = await createPat(cluster, { token: await cluster.userToken('dave@contoso.com') });
    const delays = await propagation(pat.token, async () => {
      expect((await onInstance(0).asUser('alice@contoso.com').delete(`/contoso/_apis/userentitlements/${DAVE.id}?${V}`)).status).toBe(204);
    });
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(1000);
  });

  it('a policy changed on A is enforced on B and C', async () => {
    const pat = await createPat(cluster, { token: await cluster.userToken('carol@contoso.com') }, { validTo: inDays(30) });
    const delays = await propagation(pat.token, async () => {
      const policies = await onInstance(0)
        .asUser('alice@contoso.com')
        .put(`/contoso/_apis/tokens/policies?${V}`, { maxPatLifespan: { enabled: true, maxDays: 7 } });
      expect(policies.status, policies.text).toBe(200);
    });
    for (const delay of delays) expect(delay).toBeLessThanOrEqual(1000);
  });
});

// Last in the file: it kills an instance, and the front end keeps sending a third of the requests there.
describe('last-used data when one of three instances dies', () => {
  it('keeps every new address and its event, and the stored time lags the last use by no more than the documented bound', async () => {
    const interval = LAST_USED_WRITE_SECONDS * 1000;
    const victim = 2;
    const token = await cluster.userToken('alice@contoso.com');
    const validTo = new Date(Date.now() + 3 * 86_400_000).toISOString();
    // One token used steadily from one address on each instance, and one used on the victim from a new address now and then.
    const steady = await Promise.all([0, 1, 2].map((instance) => createPat(cluster, { token }, { displayName: `steady-on-${instance}`, validTo })));
    const roaming = await createPat(cluster, { token }, { displayName: 'roaming-on-victim', validTo });
    const use = async (instance: number, pat: { token: string }, ip: string) => {
      const response = await cluster
        .on(instance)
        .fetch('/contoso/_apis/connectionData', { headers: { authorization: `Bearer ${pat.token}`, 'x-forwarded-for': ip } });
      await response.arrayBuffer();
      expect(response.status).toBe(200);
    };

    // Five write intervals of steady use on all three; a new address on the victim every tenth round.
    const lastSent = [0, 0, 0];
    const roamingIps: string[] = [];
    const end = Date.now() + 5 * interval;
    for (let round = 0; Date.now() < end; round++) {
      const sentAt = Date.now();
      const uses = [0, 1, 2].map((instance) => use(instance, steady[instance]!, '203.0.113.10'));
      if (round % 10 === 0) {
        const ip = `198.51.100.${roamingIps.length + 1}`;
        roamingIps.push(ip);
        uses.push(use(victim, roaming, ip));
      }
      await Promise.all(uses);
      lastSent.fill(sentAt);
    }
    // One more new address answered on the victim, then it dies without settling anything.
    roamingIps.push('192.0.2.77');
    await use(victim, roaming, '192.0.2.77');
    await use(victim, steady[victim]!, '203.0.113.10');
    lastSent[victim] = Date.now();
    await cluster.kill(victim);
    await sleep(1000); // the survivors' background refreshes of their last uses complete

    const repository = new PatRepository(cluster.app);
    const usage = await Promise.all(steady.map((pat) => repository.getUsage(ALICE.id, pat.authorizationId)));
    const lag = usage.map((stored, instance) => lastSent[instance]! - Date.parse(stored?.time ?? '1970-01-01T00:00:00Z'));
    // Survivors: at most one write interval behind their last use. The victim: at most one interval,
    // plus the refresh that was being written when it died (under steady use, one more interval).
    // The extra second covers a round's duration (when the last use was sent vs served).
    expect(lag[0]).toBeLessThanOrEqual(interval + 1000);
    expect(lag[1]).toBeLessThanOrEqual(interval + 1000);
    expect(lag[victim]).toBeLessThanOrEqual(2 * interval + 1000);

    // A new address is written with its event before the answer: the victim lost none of them.
    const roamed = await repository.getUsage(ALICE.id, roaming.authorizationId);
    expect(roamed?.recentIps).toEqual(roamingIps.slice(-5).reverse());
    expect(roamed?.ip).toBe('192.0.2.77');
    const newIpEvents = (rows: AuditRow[]) =>
      rows.filter((row) => row.ActionId === 'Token.PatUsedFromNewIpEvent' && dataOf(row).AuthorizationId === roaming.authorizationId);
    const rows = await waitForAudit((found) => newIpEvents(found).length >= roamingIps.length);
    expect(
      newIpEvents(rows)
        .map((row) => dataOf(row).IpAddress)
        .sort(),
    ).toEqual([...roamingIps].sort());
  }, 120_000);
});
