import { randomUUID } from 'node:crypto';
import { odata, type TableEntity } from '@azure/data-tables';
import { TABLES } from '../../shared/storage/names.js';
import { dayKey, eventRowKey, partitionKeyOf } from '../../shared/audit/repository.js';
import { DEMO_ORGANIZATIONS, DEMO_USERS } from '../../local/demo-data.js';
import { benchUserToken, fmt, median, round, seedEntities, tableClient, timed } from '../lib.js';
import { expectStatus, ratioText, sizeLabel, startGatehouse, withAzurite, withChild, type Row, type Scenario, type ScenarioContext } from './common.js';

/**
 * P5: the newest-first audit log page of 100 (`GET /contoso/_apis/audit/auditlog?batchSize=100`) with
 * `small` and with `large` events in the organization's log, spread over the last 10 days and seeded
 * directly with entity group transactions. Median latency of sequential requests; the raw query for
 * the same 100 rows (newest day partition, RowKey range, one page) is timed at both sizes too.
 */

const DAYS = 10;

function rows(count: number, now: number): TableEntity[] {
  const organization = DEMO_ORGANIZATIONS[0];
  const user = DEMO_USERS[0];
  const span = DAYS * 86_400_000;
  return Array.from({ length: count }, (_, i) => {
    const ms = now - Math.floor((i / count) * span) - 1000;
    const id = randomUUID();
    const data = JSON.stringify({ AuthorizationId: randomUUID(), DisplayName: `bench ${i}`, Scopes: 'vso.code', IsGlobal: false });
    return {
      partitionKey: partitionKeyOf(organization.id, dayKey(ms)),
      rowKey: eventRowKey(ms, id),
      EventId: id,
      EventTime: new Date(ms).toISOString(),
      OrganizationId: organization.id,
      OrganizationName: organization.name,
      ActionId: 'Token.PatCreateEvent',
      Area: 'Token',
      Category: 'create',
      ActorKind: 'user',
      ActorId: user?.id ?? id,
      ActorUpn: user?.email ?? '',
      ActorUpnLower: user?.email ?? '',
      ActorDisplayName: user?.displayName ?? '',
      AuthenticationMechanism: 'AAD_Cookie',
      IpAddress: '127.0.0.1',
      UserAgent: 'gatehouse-bench',
      CorrelationId: randomUUID(),
      ActivityId: randomUUID(),
      ScopeType: 'organization',
      ScopeId: organization.id,
      Data: data,
      DataSha256: '0'.repeat(64),
      DataLength: data.length,
      Seq: i + 1,
      PrevHash: '0'.repeat(64),
      Hash: '0'.repeat(64),
      WrittenAt: new Date(ms).toISOString(),
    };
  });
}

async function measure(ctx: ScenarioContext, size: number) {
  return withAzurite(async (azurite) =>
    withChild(startGatehouse(ctx, azurite.connectionString), async (gatehouse) => {
      const now = Date.now();
      const events = rows(size, now);
      const days = [...new Set(events.map((row) => row.partitionKey.split('|')[1] ?? ''))];
      const organizationId = DEMO_ORGANIZATIONS[0].id;
      const seeded = await timed(async () => {
        await seedEntities(tableClient(azurite.connectionString, TABLES.auditLog), events);
        await seedEntities(
          tableClient(azurite.connectionString, TABLES.auditDays),
          days.map((day) => ({ partitionKey: organizationId, rowKey: day })),
        );
      });
      ctx.log(`P5: seeded ${sizeLabel(size)} audit events in ${fmt(seeded.ms / 1000, 's', 1)}`);

      const token = await benchUserToken(ctx.secrets);
      const url = `${gatehouse.url}/contoso/_apis/audit/auditlog?api-version=7.1-preview.1&batchSize=100`;
      const page = async () => {
        const response = await expectStatus(await fetch(url, { headers: { authorization: `Bearer ${token}` } }), 200, 'audit log query');
        const body = (await response.json()) as { decoratedAuditLogEntries: unknown[] };
        if (body.decoratedAuditLogEntries.length !== 100) throw new Error(`P5: expected 100 entries, got ${body.decoratedAuditLogEntries.length}`);
      };
      const log = tableClient(azurite.connectionString, TABLES.auditLog);
      const newestFirst = [...days]
        .sort()
        .reverse()
        .map((day) => partitionKeyOf(organizationId, day));
      // The same rows the hard way: day partitions newest first, one RowKey-range page each, until 100.
      const raw = async () => {
        let got = 0;
        for (const partition of newestFirst) {
          const pages = log
            .listEntities({ queryOptions: { filter: odata`PartitionKey eq ${partition} and RowKey ge ${'e_'} and RowKey lt ${'e_~'}` } })
            .byPage({ maxPageSize: 100 - got });
          for await (const rowsPage of pages) {
            got += rowsPage.length;
            break;
          }
          if (got >= 100) return;
        }
        throw new Error(`P5: the raw query found ${got} rows`);
      };
      const reps = ctx.quick ? 8 : 25;
      for (let i = 0; i < 3; i++) {
        await page();
        await raw();
      }
      const ours: number[] = [];
      const theirs: number[] = [];
      for (let i = 0; i < reps; i++) {
        ours.push((await timed(page)).ms);
        theirs.push((await timed(raw)).ms);
      }
      return {
        size,
        seedMs: round(seeded.ms),
        gatehouseMs: median(ours),
        rawMs: median(theirs),
        samples: { gatehouse: ours.map((v) => round(v)), raw: theirs.map((v) => round(v)) },
      };
    }),
  );
}

export const auditPageScenario: Scenario = async (ctx) => {
  const [small, large] = ctx.sizes;
  const a = await measure(ctx, small);
  const b = await measure(ctx, large);
  const ratio = b.gatehouseMs / a.gatehouseMs;
  const rawRatio = b.rawMs / a.rawMs;
  // What Gatehouse adds to Azurite's query (authorization, paging, mapping, HTTP): the page minus the raw query.
  const ownSmall = a.gatehouseMs - a.rawMs;
  const ownLarge = b.gatehouseMs - b.rawMs;
  const ownRatio = ownLarge / ownSmall;
  const label = `${sizeLabel(large)} vs ${sizeLabel(small)} events`;
  const rows: Row[] = [
    {
      id: 'P5',
      scenario: `P5 audit page of 100, ${label}: median latency`,
      gatehouse: fmt(b.gatehouseMs, 'ms'),
      baseline: fmt(a.gatehouseMs, 'ms'),
      ratio: ratioText(ratio),
      goal: '≤ 1.3',
      met: ratio <= 1.3,
    },
    {
      id: 'P5',
      scenario: `P5 raw page query (Azurite alone), ${label}`,
      gatehouse: fmt(b.rawMs, 'ms'),
      baseline: fmt(a.rawMs, 'ms'),
      ratio: ratioText(rawRatio),
      goal: 'info',
      met: null,
    },
    {
      id: 'P5',
      scenario: `P5 Gatehouse's own share (page minus raw query), ${label}`,
      gatehouse: fmt(ownLarge, 'ms'),
      baseline: fmt(ownSmall, 'ms'),
      ratio: ratioText(ownRatio),
      goal: 'info',
      met: null,
    },
  ];
  return { rows, data: { days: DAYS, small: a, large: b, ratio: round(ratio, 3), rawRatio: round(rawRatio, 3), ownRatio: round(ownRatio, 3) } };
};
