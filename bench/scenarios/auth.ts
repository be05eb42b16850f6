import autocannon, { type Result } from 'autocannon';
import { patPartitionOf, patRowKey } from '../../shared/tokens/repository.js';
import { TABLES } from '../../shared/storage/names.js';
import { benchUserToken, fmt, round, startChild } from '../lib.js';
import {
  countsPer,
  expectStatus,
  ratioText,
  startGatehouse,
  totalCount,
  withAzurite,
  withChild,
  withOtlpSink,
  withProxy,
  type Row,
  type Scenario,
  type ScenarioContext,
} from './common.js';

/**
 * P1: PAT authentication over HTTP. `GET /contoso/_apis/connectionData` with `Authorization: Basic
 * base64(:PAT)` under concurrent load (autocannon), against a bare node:http server doing one Azurite
 * point read per request. Gatehouse runs three times at once: as configured by default (positive
 * authentication cache on), with the cache off (every request reads the record: the fair comparison
 * with the baseline's one read) and with tracing on (against the default). Peak RSS of the default
 * process feeds P6.
 *
 * When the connectionData route is not served (the PAT authenticator not in the build), the scenario
 * measures a JWT-authenticated read instead (`GET …/tokens/pats?authorizationId=`) and says so.
 */

const CONNECTIONS = 16;

interface Load {
  rps: number;
  p50: number;
  p99: number;
  requests: number;
  non2xx: number;
  errors: number;
}

async function load(url: string, headers: Record<string, string>, seconds: number): Promise<Load> {
  const result: Result = await autocannon({ url, headers, connections: CONNECTIONS, duration: seconds, timeout: 10 });
  const requests = result.requests.total;
  const failed = result.non2xx + result.errors + result.timeouts;
  if (requests === 0 || failed > requests * 0.01) {
    throw new Error(
      `load on ${url} failed: ${failed} of ${requests} requests were not 2xx (non2xx ${result.non2xx}, errors ${result.errors}, timeouts ${result.timeouts})`,
    );
  }
  return { rps: result.requests.average, p50: result.latency.p50, p99: result.latency.p99, requests, non2xx: result.non2xx, errors: result.errors };
}

/** Best of `rounds` (sustained requests/s), alternating with the other side so noise hits both. */
const best = (runs: Load[]) => runs.reduce((a, b) => (b.rps > a.rps ? b : a));

async function target(ctx: ScenarioContext, url: string, token: string) {
  const created = await expectStatus(
    await fetch(`${url}/contoso/_apis/tokens/pats?api-version=7.1-preview.1`, {
      method: 'POST',
      headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
      body: JSON.stringify({ displayName: 'bench-p1', scope: 'vso.profile', validTo: new Date(Date.now() + 7 * 86_400_000).toISOString(), allOrgs: false }),
    }),
    200,
    'creating the P1 PAT',
  );
  const { patToken } = (await created.json()) as { patToken: { token: string; authorizationId: string } };
  const basic = { authorization: `Basic ${Buffer.from(`:${patToken.token}`).toString('base64')}` };
  const connectionData = `${url}/contoso/_apis/connectionData`;
  const probe = await fetch(connectionData, { headers: basic });
  const record = { table: TABLES.pats, partitionKey: patPartitionOf(patToken.authorizationId), rowKey: patRowKey(patToken.authorizationId) };
  if (probe.status === 200) return { kind: 'pat' as const, url: connectionData, headers: basic, record };
  if (probe.status !== 404) await expectStatus(probe, 200, 'GET connectionData with a PAT');
  ctx.log('P1: connectionData is not served by this build; measuring a JWT-authenticated PAT read instead');
  return {
    kind: 'jwt' as const,
    url: `${url}/contoso/_apis/tokens/pats?api-version=7.1-preview.1&authorizationId=${patToken.authorizationId}`,
    headers: { authorization: `Bearer ${token}` },
    record,
  };
}

/** The baseline's URL for reading the same record Gatehouse reads for `how`. */
const baselineReading = (baselineUrl: string, how: { record: Record<string, string> }) => `${baselineUrl}/?${new URLSearchParams(how.record).toString()}`;

const CALIBRATION = 20;

/**
 * Storage round trips per request, from 20 sequential requests through the counting proxy (after 5
 * unmeasured ones), for Gatehouse in one configuration and for the bare server.
 */
async function roundTrips(ctx: ScenarioContext, extra: Record<string, string>) {
  return withAzurite(async (azurite) =>
    withProxy(azurite, async (proxy) => {
      const measure = async (url: string, headers: Record<string, string>) => {
        const call = async () => expectStatus(await fetch(url, { headers }), 200, 'P1 calibration').then((r) => r.arrayBuffer());
        for (let i = 0; i < 5; i++) await call();
        await proxy.reset();
        for (let i = 0; i < CALIBRATION; i++) await call();
        const counts = await proxy.counts();
        return { perRequest: totalCount(counts) / CALIBRATION, breakdown: countsPer(counts, CALIBRATION) };
      };
      const ours = await withChild(startGatehouse(ctx, proxy.connectionString, extra), async (gatehouse) => {
        const how = await target(ctx, gatehouse.url, await benchUserToken(ctx.secrets));
        return { ...(await measure(how.url, how.headers)), how };
      });
      const theirs = await withChild(startChild('baseline', { BASELINE: 'http', STORAGE: proxy.connectionString }), (baseline) =>
        measure(baselineReading(String(baseline.ready.url), ours.how), {}),
      );
      return { gatehouse: { perRequest: ours.perRequest, breakdown: ours.breakdown }, baseline: theirs };
    }),
  );
}

type Variant = 'default' | 'cacheOff' | 'traced';

/**
 * Gatehouse in each configuration (authentication cache on, cache off, tracing on) and the baseline,
 * all running at once and loaded in turn, round after round (the order rotating each round), best
 * round of each: on a shared machine whose load drifts by the minute, every ratio compares figures
 * taken in the same minutes.
 */
async function measureAll(ctx: ScenarioContext, connectionString: string, baselineUrl: string, otlpEndpoint: string) {
  const seconds = ctx.quick ? 2 : 6;
  const rounds = ctx.quick ? 2 : 3;
  const token = await benchUserToken(ctx.secrets);
  const settings: Record<Variant, Record<string, string>> = {
    default: {},
    cacheOff: { PAT_AUTH_CACHE_SECONDS: '0' },
    traced: { OTEL_EXPORTER_OTLP_ENDPOINT: otlpEndpoint },
  };
  const variants = Object.keys(settings) as Variant[];
  const children: Awaited<ReturnType<typeof startGatehouse>>[] = [];
  try {
    // The first seeds the demo data; the others find it there.
    for (const variant of variants)
      children.push(await startGatehouse(ctx, connectionString, { ...settings[variant], ...(children.length > 0 ? { BENCH_SEED: '0' } : {}) }));
    const gatehouse = Object.fromEntries(variants.map((variant, i) => [variant, children[i]])) as Record<Variant, (typeof children)[number]>;
    const targets = Object.fromEntries(
      await Promise.all(variants.map(async (variant) => [variant, await target(ctx, gatehouse[variant].url, token)] as const)),
    ) as Record<Variant, Awaited<ReturnType<typeof target>>>;
    // The baseline reads the record the cache-off process reads on every request.
    const baseline = { url: baselineReading(baselineUrl, targets.cacheOff), headers: {} };
    const loads: Record<Variant | 'baseline', { url: string; headers: Record<string, string> }> = { ...targets, baseline };
    const order = [...variants, 'baseline'] as const;
    for (const name of order) await load(loads[name].url, loads[name].headers, 1); // warm-up (JIT, connections, caches)
    const runs: Record<(typeof order)[number], Load[]> = { default: [], cacheOff: [], traced: [], baseline: [] };
    for (let round = 0; round < rounds; round++) {
      for (let i = 0; i < order.length; i++) {
        const name = order[(i + round) % order.length];
        if (name) runs[name].push(await load(loads[name].url, loads[name].headers, seconds));
      }
    }
    const measured = (variant: Variant) => ({
      kind: targets[variant].kind,
      gatehouse: best(runs[variant]),
      baseline: best(runs.baseline),
      runs: { gatehouse: runs[variant], baseline: runs.baseline },
    });
    return {
      default: measured('default'),
      cacheOff: measured('cacheOff'),
      traced: measured('traced'),
      peakRssMb: gatehouse.default.peakRssMb(),
      seconds,
      rounds,
    };
  } finally {
    await Promise.all(children.map((child) => child.stop()));
  }
}

export const authScenario: Scenario = async (ctx) =>
  withAzurite(async (azurite) =>
    withChild(startChild('baseline', { BASELINE: 'http', STORAGE: azurite.connectionString }), async (baseline) => {
      const baselineUrl = String(baseline.ready.url);
      ctx.log('P1: Gatehouse with the authentication cache on, off, and with tracing on (OTLP/HTTP to a local sink), and the bare server, loaded in turn');
      const all = await withOtlpSink((endpoint) => measureAll(ctx, azurite.connectionString, baselineUrl, endpoint));
      const cached = all.default;
      const uncached = all.cacheOff;
      const traced = all.traced;
      ctx.shared.p1PeakRssMb = all.peakRssMb;

      ctx.log('P1: storage round trips per request (sequential, through the counting proxy)');
      const tripsCached = await roundTrips(ctx, {});
      const tripsUncached = await roundTrips(ctx, { PAT_AUTH_CACHE_SECONDS: '0' });

      const what = cached.kind === 'pat' ? 'PAT auth, connectionData' : 'JWT read (fallback: no connectionData yet)';
      const rows: Row[] = [];
      const push = (label: string, m: typeof cached, goal: boolean) => {
        const ratio = m.gatehouse.rps / m.baseline.rps;
        rows.push({
          id: 'P1',
          scenario: `P1 ${what}${label}: req/s`,
          gatehouse: fmt(m.gatehouse.rps, '', 0),
          baseline: fmt(m.baseline.rps, '', 0),
          ratio: ratioText(ratio),
          goal: goal ? '≥ 0.8×' : 'info',
          met: goal ? ratio >= 0.8 : null,
        });
        rows.push({
          id: 'P1',
          scenario: `P1 ${what}${label}: p50 / p99`,
          gatehouse: `${fmt(m.gatehouse.p50, '', 0)} / ${fmt(m.gatehouse.p99, 'ms', 0)}`,
          baseline: `${fmt(m.baseline.p50, '', 0)} / ${fmt(m.baseline.p99, 'ms', 0)}`,
          ratio: '',
          goal: 'info',
          met: null,
        });
      };
      push('', cached, true);
      push(', cache off', uncached, true);
      const tracingRatio = traced.gatehouse.rps / cached.gatehouse.rps;
      rows.push({
        id: 'P1',
        scenario: `P1 ${what}, tracing on (OTLP): req/s vs tracing off`,
        gatehouse: fmt(traced.gatehouse.rps, '', 0),
        baseline: fmt(cached.gatehouse.rps, '', 0),
        ratio: ratioText(tracingRatio),
        goal: '≥ 0.9×',
        met: tracingRatio >= 0.9,
      });
      rows.push({
        id: 'P1',
        scenario: `P1 ${what}: storage round trips / request (cache on / off)`,
        gatehouse: `${fmt(tripsCached.gatehouse.perRequest, '', 1)} / ${fmt(tripsUncached.gatehouse.perRequest, '', 1)}`,
        baseline: fmt(tripsCached.baseline.perRequest, '', 1),
        ratio: '',
        goal: 'info',
        met: null,
      });
      const summary = (m: typeof cached) => ({
        gatehouse: { rps: round(m.gatehouse.rps), p50Ms: m.gatehouse.p50, p99Ms: m.gatehouse.p99, requests: m.gatehouse.requests },
        baseline: { rps: round(m.baseline.rps), p50Ms: m.baseline.p50, p99Ms: m.baseline.p99, requests: m.baseline.requests },
        ratio: round(m.gatehouse.rps / m.baseline.rps, 3),
      });
      return {
        rows,
        data: {
          route: cached.kind === 'pat' ? 'GET /contoso/_apis/connectionData (Basic PAT)' : 'GET /contoso/_apis/tokens/pats?authorizationId= (JWT)',
          connections: CONNECTIONS,
          secondsPerRun: all.seconds,
          rounds: all.rounds,
          default: summary(cached),
          cacheOff: summary(uncached),
          tracingOn: summary(traced),
          peakRssMb: round(all.peakRssMb ?? Number.NaN, 1),
          roundTrips: { default: tripsCached, cacheOff: tripsUncached },
        },
      };
    }),
  );

/** Peak RSS of Gatehouse under the P1 load on its own (for P6 when P1 is not selected). */
export async function peakRssUnderLoad(ctx: ScenarioContext): Promise<number | undefined> {
  return withAzurite(async (azurite) =>
    withChild(startGatehouse(ctx, azurite.connectionString), async (gatehouse) => {
      const how = await target(ctx, gatehouse.url, await benchUserToken(ctx.secrets));
      await load(how.url, how.headers, ctx.quick ? 3 : 10);
      return gatehouse.peakRssMb();
    }),
  );
}
