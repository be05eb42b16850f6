import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AuditRow } from '../../shared/audit/repository.js';
import { TABLES } from '../../shared/storage/names.js';
import { startTestCluster, type TestCluster } from '../helpers/cluster.js';
import { createPat } from '../helpers/http.js';

/** Three runtime processes on one storage account, as the host scales out. */
let cluster: TestCluster;

beforeAll(async () => {
  cluster = await startTestCluster({ instances: 3 });
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
      const response = await cluster.fetch('/contoso/_apis/projects?api-version=7.1', { token });
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
    const pats = await Promise.all(Array.from({ length: 24 }, (_, i) => createPat(cluster, { token }, { displayName: `scale-${i}` })));
    const ids = new Set(pats.map((pat) => pat.authorizationId));
    const created = (rows: AuditRow[]) =>
      rows.filter((row) => row.ActionId === 'Token.PatCreateEvent' && [...ids].some((id) => (row.Data ?? '').includes(id)));
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
