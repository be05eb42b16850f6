import { odata } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { createAppContext } from '../../shared/app-context.js';
import { DEMO_ORGANIZATIONS } from '../../local/demo-data.js';
import type { AuditEvent } from '../../shared/audit/events.js';
import { writeAuditEvent } from '../../shared/audit/writer.js';
import { TABLES } from '../../shared/storage/names.js';
import { sampleAuditEvent } from '../helpers/audit.js';

// The writer remembers each partition's chain head (and its ETag) after an append instead of reading
// it again; these check that another writer's appends and a removed head still give one gapless chain.

const contoso = DEMO_ORGANIZATIONS[0];
const NOW = '2026-03-10T12:00:00.000Z';
const PARTITION = `${contoso.id}|20260310`;

let env: TestEnvironment;

beforeAll(async () => {
  env = await startTestEnvironment({ now: NOW });
});
afterAll(async () => {
  await env?.stop();
});

function event(i: number): AuditEvent {
  return sampleAuditEvent(new Date(env.clock.now().getTime() - 1000 + i), { data: { DisplayName: `event ${i}` } });
}

async function chain(): Promise<{ Seq: number; PrevHash: string; Hash: string }[]> {
  const rows: { Seq: number; PrevHash: string; Hash: string }[] = [];
  for await (const row of env.app.storage.table(TABLES.auditLog).listEntities<{ Seq: number; PrevHash: string; Hash: string }>({
    queryOptions: { filter: odata`PartitionKey eq ${PARTITION} and RowKey ge 'e_' and RowKey lt 'e_~'` },
  })) {
    rows.push(row);
  }
  return rows.sort((a, b) => a.Seq - b.Seq);
}

describe('audit writer chain heads', () => {
  it('keeps one gapless chain when two writers (processes) append to the same partition in turn', async () => {
    // A second app context on the same storage has its own remembered heads, as another instance would.
    const other = createAppContext(env.app.config, { clock: env.clock, log: env.app.log });
    const writers = [env.app, other, env.app, env.app, other, env.app, other, other];
    for (const [i, app] of writers.entries()) {
      expect((await writeAuditEvent(app, event(i))).status).toBe('written');
    }
    const rows = await chain();
    expect(rows.map((row) => row.Seq)).toEqual(writers.map((_, i) => i + 1));
    for (let i = 1; i < rows.length; i++) expect(rows[i]!.PrevHash).toBe(rows[i - 1]!.Hash);
  });

  it('starts the chain again when the remembered head was removed', async () => {
    const table = env.app.storage.table(TABLES.auditLog);
    for await (const row of table.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${PARTITION}` } })) {
      await table.deleteEntity(PARTITION, row.rowKey!);
    }
    expect((await writeAuditEvent(env.app, event(100))).status).toBe('written');
    expect((await chain()).map((row) => row.Seq)).toEqual([1]);
  });
});
