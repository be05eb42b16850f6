import { randomUUID } from 'node:crypto';
import { newPatAuthorizationId, ownerPartitionOf } from '../../shared/tokens/repository.js';
import { odata, type TableEntity } from '@azure/data-tables';
import { createAppContext, type AppContext } from '../../shared/app-context.js';
import { loadConfig } from '../../shared/config.js';
import { provisionStorage } from '../../shared/storage/provision.js';
import { TABLES } from '../../shared/storage/names.js';
import { seedDemoData, DEMO_ORGANIZATIONS } from '../../local/demo-data.js';
import { fmt, gatehouseSettings, median, round, seedEntities, timed } from '../lib.js';
import { ratioText, sizeLabel, withAzurite, type Row, type Scenario, type ScenarioContext } from './common.js';
import { DAY_MS } from '../../shared/time.js';

/**
 * P3: the expiry sweep (shared/lifecycle/sweep.ts) with 100 due tokens among `small` and among
 * `large` tokens. Tokens are seeded directly (records in `pats`, rows in `patexpiry`) with entity
 * group transactions; the not-yet-due ones expire over the next 90 days. Each repetition adds 100
 * fresh due tokens, clears the sweep cursor and runs one sweep in this process against the
 * compiled code, counting time and the entities the run read (its own counters). The raw "next
 * non-empty bucket" seek is timed on its own too, to tell the sweep's cost from Azurite's.
 */

const DUE = 100;

// The sweep is loaded at run time so the benchmark builds and reports even before it exists.
interface SweepModules {
  sweepKind: (app: AppContext, kind: unknown, now: Date, scope: unknown, options: { budget: { remaining: number } }) => Promise<void>;
  createPatKind: () => unknown;
  newCounters: () => Record<string, number | boolean>;
  entitiesRead: (counters: Record<string, number | boolean>) => number;
  directoryCache: (app: AppContext, counters: Record<string, number | boolean>) => unknown;
  deleteCursor: (app: AppContext, name: string) => Promise<void>;
  expiryCursorName: (kind: unknown) => string;
}

async function loadSweep(): Promise<SweepModules | string> {
  const load = (name: string) => import(new URL(`../../shared/lifecycle/${name}.js`, import.meta.url).href) as Promise<Record<string, unknown>>;
  try {
    const [sweep, patKind, kinds, cache, cursors] = await Promise.all([
      load('sweep'),
      load('pat-kind'),
      load('kinds'),
      load('directory-cache'),
      load('cursors'),
    ]);
    const modules = {
      sweepKind: sweep.sweepKind,
      expiryCursorName: sweep.expiryCursorName,
      createPatKind: patKind.createPatKind,
      newCounters: kinds.newCounters,
      entitiesRead: kinds.entitiesRead,
      directoryCache: cache.directoryCache,
      deleteCursor: cursors.deleteCursor,
    };
    const missing = Object.entries(modules)
      .filter(([, value]) => typeof value !== 'function')
      .map(([name]) => name);
    return missing.length ? `the lifecycle sweep does not export ${missing.join(', ')} yet` : (modules as unknown as SweepModules);
  } catch (error) {
    return `the lifecycle sweep is not in this build (${(error as Error).message.split('\n')[0]})`;
  }
}

function token(ownerId: string, organizationId: string, validToMs: number, now: number): { record: TableEntity; index: TableEntity } {
  const partition = ownerPartitionOf(ownerId);
  const id = newPatAuthorizationId(ownerId);
  const validTo = new Date(validToMs).toISOString();
  const record: TableEntity = {
    partitionKey: partition,
    rowKey: `pat_${id}`,
    authorizationId: id,
    ownerId,
    accessId: randomUUID(),
    displayName: 'bench token',
    scope: 'vso.code',
    targetAccounts: JSON.stringify([organizationId]),
    isGlobal: false,
    validFrom: new Date(now - DAY_MS).toISOString(),
    validTo,
    revokedAt: '',
    revokedBy: '',
    revocationKind: '',
    pepperVersion: '1',
    hash: randomUUID().replace(/-/g, '').repeat(2),
    organizationId,
    updatedAt: new Date(now - DAY_MS).toISOString(),
    rotatedTo: '',
    graceEndsAt: '',
    revocationReason: '',
    expiredEventAt: '',
  };
  const index: TableEntity = {
    partitionKey: validTo.slice(0, 13).replace(/[-T]/g, ''),
    rowKey: `${String(validToMs).padStart(13, '0')}_${id}`,
    ownerId,
    authorizationId: id,
  };
  return { record, index };
}

async function seed(app: AppContext, tokens: { record: TableEntity; index: TableEntity }[]): Promise<void> {
  await Promise.all([
    seedEntities(
      app.storage.table(TABLES.pats),
      tokens.map((t) => t.record),
    ),
    seedEntities(
      app.storage.table(TABLES.patExpiry),
      tokens.map((t) => t.index),
    ),
  ]);
}

async function measure(ctx: ScenarioContext, sweep: SweepModules, size: number) {
  return withAzurite(async (azurite) => {
    const app = createAppContext(loadConfig(gatehouseSettings(ctx.secrets, azurite.connectionString)));
    await provisionStorage(app.storage);
    await seedDemoData(app);
    const organizationId = DEMO_ORGANIZATIONS[0].id;
    const now = Date.now();
    // Not yet due: 100 tokens per owner, expiring over the next 90 days.
    const notDue = size - DUE;
    const seeded = await timed(async () => {
      const tokens = Array.from({ length: notDue }, (_, i) =>
        token(
          `00000000-0000-4000-8000-${String(Math.floor(i / 100)).padStart(12, '0')}`,
          organizationId,
          now + DAY_MS + Math.floor(Math.random() * 89 * DAY_MS),
          now,
        ),
      );
      await seed(app, tokens);
    });
    ctx.log(`P3: seeded ${sizeLabel(size)} tokens in ${fmt(seeded.ms / 1000, 's', 1)}`);

    const reps = ctx.quick ? 2 : 3;
    const runs: { ms: number; entitiesRead: number; expired: number; seekMs: number }[] = [];
    // Repetition 0 warms up (JIT, connections) and is not counted.
    for (let rep = 0; rep <= reps; rep++) {
      const owner = `dddddddd-0000-4000-8000-${String(rep).padStart(12, '0')}`;
      const runNow = Date.now();
      await seed(
        app,
        Array.from({ length: DUE }, (_, i) => token(owner, organizationId, runNow - 60_000 - i * 20_000, runNow - DAY_MS)),
      );
      const kind = sweep.createPatKind();
      await sweep.deleteCursor(app, sweep.expiryCursorName(kind));
      const seek = await timed(async () => {
        const last = new Date(runNow).toISOString().slice(0, 13).replace(/[-T]/g, '');
        const pages = app.storage
          .table(TABLES.patExpiry)
          .listEntities({ queryOptions: { filter: odata`PartitionKey le ${last}`, select: ['PartitionKey'] } })
          .byPage({ maxPageSize: 1 });
        for await (const page of pages) if (page.length > 0) break;
      });
      const counters = sweep.newCounters();
      const scope = { counters, directory: sweep.directoryCache(app, counters) };
      const run = await timed(() => sweep.sweepKind(app, kind, new Date(), scope, { budget: { remaining: 100_000 } }));
      if (counters.expired !== DUE) throw new Error(`P3: the sweep expired ${String(counters.expired)} of ${DUE} due tokens (${JSON.stringify(counters)})`);
      if (rep > 0) runs.push({ ms: run.ms, entitiesRead: sweep.entitiesRead(counters), expired: counters.expired, seekMs: seek.ms });
    }
    return {
      size,
      seedMs: round(seeded.ms),
      ms: median(runs.map((r) => r.ms)),
      entitiesRead: median(runs.map((r) => r.entitiesRead)),
      seekMs: median(runs.map((r) => r.seekMs)),
      runs,
    };
  });
}

export const sweepScenario: Scenario = async (ctx) => {
  const sweep = await loadSweep();
  const [small, large] = ctx.sizes;
  const label = `P3 expiry sweep, ${DUE} due among ${sizeLabel(large)} vs ${sizeLabel(small)}`;
  if (typeof sweep === 'string') {
    ctx.log(`P3: not available: ${sweep}`);
    return {
      rows: [{ id: 'P3', scenario: label, gatehouse: 'not available yet', baseline: '—', ratio: '—', goal: '≤ 1.3', met: null, note: sweep }],
      data: { available: false, reason: sweep },
    };
  }
  const a = await measure(ctx, sweep, small);
  const b = await measure(ctx, sweep, large);
  const ratio = b.ms / a.ms;
  const seekRatio = b.seekMs / a.seekMs;
  const rows: Row[] = [
    { id: 'P3', scenario: `${label}: time`, gatehouse: fmt(b.ms, 'ms'), baseline: fmt(a.ms, 'ms'), ratio: ratioText(ratio), goal: '≤ 1.3', met: ratio <= 1.3 },
    {
      id: 'P3',
      scenario: `${label}: entities read`,
      gatehouse: String(b.entitiesRead),
      baseline: String(a.entitiesRead),
      ratio: ratioText(b.entitiesRead / a.entitiesRead),
      goal: 'info',
      met: null,
    },
    {
      id: 'P3',
      scenario: `P3 raw bucket seek (Azurite alone), ${sizeLabel(large)} vs ${sizeLabel(small)}`,
      gatehouse: fmt(b.seekMs, 'ms'),
      baseline: fmt(a.seekMs, 'ms'),
      ratio: ratioText(seekRatio),
      goal: 'info',
      met: null,
    },
  ];
  return { rows, data: { available: true, due: DUE, small: a, large: b, ratio: round(ratio, 3), seekRatio: round(seekRatio, 3) } };
};
