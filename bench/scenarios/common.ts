import { startAzurite, type AzuriteInstance } from '../../local/azurite.js';
import { azuriteConnectionString } from '../../shared/storage/clients.js';
import type { BenchmarkRow } from '../../tools/docs/benchmarks.js';
import { gatehouseSettings, startChild, type BenchSecrets, type Child } from '../lib.js';

/** What every scenario gets and returns. */
export interface ScenarioContext {
  readonly quick: boolean;
  /** Data sizes for P3 and P5: [small, large]; the ratio is large / small. */
  readonly sizes: readonly [number, number];
  readonly secrets: BenchSecrets;
  log(message: string): void;
  /** Figures one scenario hands to another (P1 → P6: peak RSS under load). */
  readonly shared: { p1PeakRssMb?: number };
}

/** A row of the results table, as bench/results.json keeps it and docs/benchmarks.md renders it. */
export type Row = BenchmarkRow;

export interface ScenarioResult {
  readonly rows: Row[];
  readonly data: Record<string, unknown>;
}

export type Scenario = (ctx: ScenarioContext) => Promise<ScenarioResult>;

export const sizeLabel = (n: number) => (n >= 1000 && n % 1000 === 0 ? `${n / 1000}k` : String(n));

/** Starts Azurite in memory on free ports, runs `work`, and always stops it. */
export async function withAzurite<T>(work: (azurite: AzuriteInstance) => Promise<T>): Promise<T> {
  const azurite = await startAzurite({});
  try {
    return await work(azurite);
  } finally {
    await azurite.stop();
  }
}

/** Gatehouse, compiled, in its own process (see bench/server.ts). */
export async function startGatehouse(ctx: ScenarioContext, connectionString: string, extra: Record<string, string> = {}): Promise<Child & { url: string }> {
  // BENCH_CPU_PROF=<dir> writes a V8 CPU profile of every Gatehouse process (for finding out why).
  const profile = process.env.BENCH_CPU_PROF ? ['--cpu-prof', '--cpu-prof-dir', process.env.BENCH_CPU_PROF] : [];
  const child = await startChild('server', gatehouseSettings(ctx.secrets, connectionString, extra), { nodeArgs: profile });
  return Object.assign(child, { url: String(child.ready.url) });
}

export async function withChild<T, C extends { stop(): Promise<void> }>(start: Promise<C>, work: (child: C) => Promise<T>): Promise<T> {
  const child = await start;
  try {
    return await work(child);
  } finally {
    await child.stop();
  }
}

/** Throws when a response is not what the scenario needs (the harness is broken, not slow). */
export async function expectStatus(response: Response, status: number, what: string): Promise<Response> {
  if (response.status !== status) throw new Error(`${what}: expected ${status}, got ${response.status}: ${(await response.text()).slice(0, 500)}`);
  return response;
}

export const ratioText = (ratio: number) => (Number.isFinite(ratio) ? `${ratio.toFixed(2)}×` : '—');

export type Counts = Record<string, number>;
export const totalCount = (counts: Counts) => Object.values(counts).reduce((a, b) => a + b, 0);
export const countsPer = (counts: Counts, requests: number) =>
  Object.fromEntries(
    Object.entries(counts)
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, n]) => [key, Math.round((n / requests) * 100) / 100]),
  );

export interface Proxy {
  /** Connection string whose endpoints are the proxy's ports. */
  readonly connectionString: string;
  reset: () => Promise<void>;
  /** Storage requests since the last reset, without the change feed's background reads. */
  counts: () => Promise<Counts>;
  /** The change feed's requests since the last reset (every instance polls it in the background). */
  changeFeedCounts: () => Promise<Counts>;
}

const isChangeFeed = (key: string) => /^table \S+ changes\b/.test(key);

/** A counting proxy (bench/proxy.ts) in front of `azurite` for the duration of `work`. */
export async function withProxy<T>(azurite: AzuriteInstance, work: (proxy: Proxy) => Promise<T>): Promise<T> {
  const env = { TARGET_HOST: azurite.host, TARGET_PORTS: `${azurite.ports.blob},${azurite.ports.queue},${azurite.ports.table}` };
  return withChild(startChild('proxy', env), async (child) => {
    const ports = child.ready.ports as { blob: number; queue: number; table: number };
    const control = `http://127.0.0.1:${String(child.ready.control)}`;
    return work({
      connectionString: azuriteConnectionString('127.0.0.1', ports),
      reset: async () => {
        await (await fetch(`${control}/reset`, { method: 'POST' })).arrayBuffer();
      },
      counts: async () => Object.fromEntries(Object.entries((await (await fetch(`${control}/counts`)).json()) as Counts).filter(([key]) => !isChangeFeed(key))),
      changeFeedCounts: async () =>
        Object.fromEntries(Object.entries((await (await fetch(`${control}/counts`)).json()) as Counts).filter(([key]) => isChangeFeed(key))),
    });
  });
}

/** A local OTLP/HTTP endpoint that accepts and discards every export, for measuring tracing's cost. */
export async function withOtlpSink<T>(work: (endpoint: string) => Promise<T>): Promise<T> {
  const { createServer } = await import('node:http');
  const server = createServer((req, res) => {
    req.resume();
    req.on('end', () => res.writeHead(200, { 'content-type': 'application/json' }).end('{}'));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  try {
    return await work(`http://127.0.0.1:${port}`);
  } finally {
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
