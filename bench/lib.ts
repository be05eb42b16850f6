import { spawn, type ChildProcess } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { TableClient, type TableEntity, type TransactionAction } from '@azure/data-tables';
import { generatePepperSetting, generateSigningKey, type SigningKey } from '../local/dev-secrets.js';
import { userToken } from '../local/tokens.js';
import { DEFAULT_AUDIT_RETENTION_SCHEDULE, DEFAULT_GRANT_REVIEW_SCHEDULE, DEFAULT_LIFECYCLE_SCHEDULE } from '../shared/config.js';

/** Helpers shared by the benchmark scenarios: child processes, statistics, seeding, tokens. */

export const BENCH_DIR = dirname(fileURLToPath(import.meta.url));
export const ISSUER = 'https://login.gatehouse.bench/tenant/v2.0';
export const AUDIENCE = 'api://gatehouse-bench';
export const ALICE = 'alice@contoso.com';

export interface BenchSecrets {
  readonly signingKey: SigningKey;
  readonly peppers: string;
}

export async function benchSecrets(): Promise<BenchSecrets> {
  return { signingKey: await generateSigningKey(), peppers: generatePepperSetting('1') };
}

/** A delegated token for a seeded demo user, valid for the whole run. */
export function benchUserToken(secrets: BenchSecrets, email = ALICE, scopes?: readonly string[]): Promise<string> {
  return userToken(secrets.signingKey, { issuer: ISSUER, audience: AUDIENCE }, email, { lifetimeSeconds: 4 * 3600, ...(scopes ? { scopes } : {}) });
}

/** The settings Gatehouse needs in production configuration (no dev logging), for a storage account. */
/** NODE_OPTIONS of the deployed Function App (infra/node-runtime.json, loaded by infra/main.bicep). */
export function productionNodeOptions(): string {
  const runtime = JSON.parse(readFileSync(join(BENCH_DIR, '..', '..', 'infra', 'node-runtime.json'), 'utf8')) as { nodeOptions: string };
  return runtime.nodeOptions;
}

export function gatehouseSettings(secrets: BenchSecrets, connectionString: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    STORAGE: connectionString,
    AzureWebJobsStorage: connectionString,
    AUTH_ISSUER: ISSUER,
    AUTH_AUDIENCE: AUDIENCE,
    AUTH_JWKS: JSON.stringify(secrets.signingKey.publicJwks),
    TOKEN_PEPPERS: secrets.peppers,
    LOG_LEVEL: 'warn',
    PORT: '0',
    NODE_ENV: 'production',
    // The worker's Node options as infra/main.bicep deploys them.
    NODE_OPTIONS: productionNodeOptions(),
    // Timer schedules are app settings the host resolves (%NAME%); the service defaults.
    LIFECYCLE_SCHEDULE: DEFAULT_LIFECYCLE_SCHEDULE,
    GRANT_REVIEW_SCHEDULE: DEFAULT_GRANT_REVIEW_SCHEDULE,
    AUDIT_RETENTION_SCHEDULE: DEFAULT_AUDIT_RETENTION_SCHEDULE,
    ...extra,
  };
}

// ---- child processes ------------------------------------------------------------------------------

export interface Child {
  readonly pid: number;
  /** The JSON the child printed after `BENCH_READY `. */
  readonly ready: Record<string, unknown>;
  /** Resolves with the JSON the child printed after `BENCH_RESULT ` (for children that finish). */
  readonly result: Promise<Record<string, unknown>>;
  /** Peak resident set size so far (VmHWM), in MB. */
  peakRssMb(): number | undefined;
  stop(): Promise<void>;
}

/**
 * Starts `dist-bench/bench/<script>.js` with a clean environment plus `env`. The child prints one
 * `BENCH_READY {json}` line when it is ready and may print `BENCH_RESULT {json}` when done. It exits
 * when its stdin closes, so nothing outlives the benchmark.
 */
export async function startChild(script: string, env: Record<string, string>, options: { nodeArgs?: string[]; timeoutMs?: number } = {}): Promise<Child> {
  const child: ChildProcess = spawn(process.execPath, [...(options.nodeArgs ?? []), join(BENCH_DIR, `${script}.js`)], {
    env: { PATH: process.env.PATH ?? '', ...env },
    stdio: ['pipe', 'pipe', 'pipe'],
  });
  let stderr = '';
  let buffered = '';
  let resolveReady!: (value: Record<string, unknown>) => void;
  let rejectReady!: (error: Error) => void;
  let resolveResult!: (value: Record<string, unknown>) => void;
  let rejectResult!: (error: Error) => void;
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => ((resolveReady = resolve), (rejectReady = reject)));
  const result = new Promise<Record<string, unknown>>((resolve, reject) => ((resolveResult = resolve), (rejectResult = reject)));
  result.catch(() => undefined);
  child.stderr?.on('data', (chunk: Buffer) => (stderr = (stderr + chunk.toString()).slice(-4000)));
  child.stdout?.on('data', (chunk: Buffer) => {
    buffered += chunk.toString();
    let newline: number;
    while ((newline = buffered.indexOf('\n')) >= 0) {
      const line = buffered.slice(0, newline);
      buffered = buffered.slice(newline + 1);
      if (line.startsWith('BENCH_READY ')) resolveReady(JSON.parse(line.slice('BENCH_READY '.length)) as Record<string, unknown>);
      else if (line.startsWith('BENCH_RESULT ')) resolveResult(JSON.parse(line.slice('BENCH_RESULT '.length)) as Record<string, unknown>);
      else if (line.trim() && process.env.BENCH_VERBOSE) console.log(`  [${script}] ${line}`);
    }
  });
  child.once('exit', (code, signal) => {
    const error = new Error(`${script} exited (${code ?? signal}) before it was done\n${stderr}`);
    rejectReady(error);
    rejectResult(error);
  });
  const timeout = setTimeout(
    () => rejectReady(new Error(`${script} was not ready within ${options.timeoutMs ?? 60_000} ms\n${stderr}`)),
    options.timeoutMs ?? 60_000,
  );
  let readyValue: Record<string, unknown>;
  try {
    readyValue = await ready;
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  } finally {
    clearTimeout(timeout);
  }
  const pid = child.pid ?? 0;
  return {
    pid,
    ready: readyValue,
    result,
    peakRssMb: () => peakRssMb(pid),
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      }),
  };
}

/** Called by child scripts: exit when the parent goes away (its end of stdin closes). */
export function exitWithParent(cleanup: () => Promise<void> = async () => undefined): void {
  let stopping = false;
  const stop = () => {
    if (stopping) return;
    stopping = true;
    void cleanup()
      .catch(() => undefined)
      .finally(() => process.exit(0));
  };
  process.stdin.on('end', stop);
  process.stdin.on('error', stop);
  process.stdin.resume();
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

export function peakRssMb(pid: number): number | undefined {
  try {
    const status = readFileSync(`/proc/${pid}/status`, 'utf8');
    const match = /^VmHWM:\s+(\d+)\s+kB/m.exec(status);
    return match?.[1] ? Number(match[1]) / 1024 : undefined;
  } catch {
    return undefined;
  }
}

// ---- statistics and formatting ----------------------------------------------------------------------

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const middle = Math.floor(sorted.length / 2);
  return sorted.length % 2 ? (sorted[middle] as number) : ((sorted[middle - 1] as number) + (sorted[middle] as number)) / 2;
}

export function percentile(values: readonly number[], p: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number;
}

export const round = (value: number, digits = 2) => (Number.isFinite(value) ? Number(value.toFixed(digits)) : value);

export function fmt(value: number | undefined, unit = '', digits?: number): string {
  if (value === undefined || !Number.isFinite(value)) return '—';
  const places = digits ?? (Math.abs(value) >= 100 ? 0 : Math.abs(value) >= 10 ? 1 : 2);
  return `${value.toFixed(places)}${unit ? ` ${unit}` : ''}`;
}

export async function timed<T>(work: () => Promise<T>): Promise<{ value: T; ms: number }> {
  const started = performance.now();
  const value = await work();
  return { value, ms: performance.now() - started };
}

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function machineInfo() {
  let cpu = cpus()[0]?.model ?? 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  return { nproc: cpus().length, node: process.version, cpu, loadAverage: loadavg().map((value) => round(value)) };
}

// ---- seeding ------------------------------------------------------------------------------------------

export function tableClient(connectionString: string, table: string): TableClient {
  return TableClient.fromConnectionString(connectionString, table, { allowInsecureConnection: true });
}

/** Writes entities with entity group transactions (100 per partition chunk), `parallel` at a time. */
export async function seedEntities(table: TableClient, entities: readonly TableEntity[], parallel = 8): Promise<void> {
  const byPartition = new Map<string, TableEntity[]>();
  for (const entity of entities) {
    let list = byPartition.get(entity.partitionKey);
    if (!list) byPartition.set(entity.partitionKey, (list = []));
    list.push(entity);
  }
  const chunks: TableEntity[][] = [];
  for (const list of byPartition.values()) for (let i = 0; i < list.length; i += 100) chunks.push(list.slice(i, i + 100));
  let next = 0;
  const worker = async () => {
    while (next < chunks.length) {
      const chunk = chunks[next++] as TableEntity[];
      await table.submitTransaction(chunk.map((entity): TransactionAction => ['upsert', entity, 'Replace']));
    }
  };
  await Promise.all(Array.from({ length: Math.min(parallel, chunks.length) }, worker));
}

/** Runs `work(i)` for i in [0, count) with at most `parallel` in flight. */
export async function inParallel(count: number, parallel: number, work: (i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const worker = async () => {
    while (next < count) await work(next++);
  };
  await Promise.all(Array.from({ length: Math.min(parallel, count) }, worker));
}
