import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BENCH_DIR, benchSecrets, machineInfo, round } from './lib.js';
import { parseArgs, SCENARIO_IDS, UsageError, USAGE, type ScenarioId } from './cli.js';
import type { Row, Scenario, ScenarioContext } from './scenarios/common.js';
import type { BenchmarkResults } from '../tools/docs/benchmarks.js';
import { authScenario } from './scenarios/auth.js';
import { patCreateScenario } from './scenarios/pat-create.js';
import { sweepScenario } from './scenarios/sweep.js';
import { auditWriterScenario } from './scenarios/audit-writer.js';
import { auditPageScenario } from './scenarios/audit-page.js';
import { coldStartScenario } from './scenarios/cold-start.js';
import { propagationScenario } from './scenarios/propagation.js';
import { isolationScenario } from './scenarios/isolation.js';

/**
 * `npm run bench [-- [--quick] [--sizes=<small>,<large>] [scenario ...]]`: every hot path against a
 * baseline measured in the same run. Prints one table and writes the figures as JSON. Exits non-zero
 * only when the harness itself fails (bad arguments, a crash), never because a goal was missed.
 */

const SCENARIOS: Record<ScenarioId, { run: Scenario; what: string }> = {
  P1: { run: authScenario, what: 'PAT authentication over HTTP vs a bare server with one point read' },
  P2: { run: patCreateScenario, what: 'PAT create over HTTP vs a raw loop of the same storage calls' },
  P3: { run: sweepScenario, what: 'expiry sweep, 100 due among the small vs the large token count' },
  P4: { run: auditWriterScenario, what: 'audit writer draining N queued events vs a raw loop' },
  P5: { run: auditPageScenario, what: 'newest-first audit page of 100, small vs large log' },
  P6: { run: coldStartScenario, what: 'import time of the whole app; peak RSS under the P1 load' },
  P7: { run: propagationScenario, what: 'revocation propagation across 3 instances under load; change feed cost' },
  P8: { run: isolationScenario, what: 'notice latency beside a blackholed organization, npm read fan-out, memory of refused publishes' },
};

function table(rows: readonly Row[]): string {
  const header = ['scenario', 'Gatehouse', 'baseline', 'ratio', 'goal', 'met?'];
  const body = rows.map((row) => [row.scenario, row.gatehouse, row.baseline, row.ratio, row.goal, row.met === null ? '' : row.met ? 'yes' : 'NO']);
  const widths = header.map((title, i) => Math.max(title.length, ...body.map((cells) => (cells[i] ?? '').length)));
  const line = (cells: readonly string[]) => `| ${cells.map((cell, i) => cell.padEnd(widths[i] ?? 0)).join(' | ')} |`;
  return [line(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...body.map(line)].join('\n');
}

async function main(): Promise<void> {
  let options;
  try {
    options = parseArgs(process.argv.slice(2));
  } catch (error) {
    if (!(error instanceof UsageError)) throw error;
    console.error(`bench: ${error.message}\n${USAGE}`);
    process.exit(2);
  }
  if (options.help) {
    console.log(USAGE);
    return;
  }
  const started = Date.now();
  const machine = machineInfo();
  console.log(
    `Gatehouse benchmarks (${options.quick ? 'quick' : 'full'}): ${options.scenarios.join(', ')}; sizes ${options.sizeNames.join(' vs ')}\n` +
      `machine: ${machine.nproc} CPUs, ${machine.cpu}, Node ${machine.node}, load average ${machine.loadAverage.join(' ')}\n`,
  );
  const ctx: ScenarioContext = {
    quick: options.quick,
    sizes: options.sizes,
    secrets: await benchSecrets(),
    log: (message) => console.log(`  ${((Date.now() - started) / 1000).toFixed(1).padStart(6)} s  ${message}`),
    shared: {},
  };
  const rows: Row[] = [];
  const data: Record<string, unknown> = {};
  const durations: Record<string, number> = {};
  for (const id of options.scenarios) {
    const scenario = SCENARIOS[id];
    ctx.log(`${id}: ${scenario.what}`);
    const t = Date.now();
    const result = await scenario.run(ctx);
    durations[id] = round((Date.now() - t) / 1000, 1);
    rows.push(...result.rows);
    data[id] = result.data;
    ctx.log(`${id} done in ${durations[id]} s`);
  }
  const seconds = round((Date.now() - started) / 1000, 1);
  console.log(`\n${table(rows)}\n`);
  for (const row of rows.filter((r) => r.note)) console.log(`  ${row.id}: ${row.note}`);
  const goals = rows.filter((row) => row.met !== null);
  console.log(
    `\n${goals.filter((row) => row.met).length} of ${goals.length} goals met; ${seconds} s in all (${Object.entries(durations)
      .map(([id, s]) => `${id} ${s} s`)
      .join(', ')})`,
  );

  const complete = !options.quick && options.scenarios.length === SCENARIO_IDS.length;
  const file = join(BENCH_DIR, '..', '..', 'bench', complete ? 'results.json' : 'last-run.json');
  writeFileSync(
    file,
    `${JSON.stringify(
      {
        date: new Date(started).toISOString(),
        mode: options.quick ? 'quick' : 'full',
        sizes: options.sizeNames,
        scenarios: options.scenarios,
        machine: { ...machine, loadAverageAfter: machineInfo().loadAverage },
        seconds,
        durations,
        rows,
        data,
      } satisfies BenchmarkResults & { data: unknown },
      null,
      2,
    )}\n`,
  );
  console.log(`figures written to bench/${complete ? 'results.json (npm run docs renders them into docs/benchmarks.md)' : 'last-run.json'}`);
}

main().then(
  () => process.exit(0),
  (error: unknown) => {
    console.error(`bench failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`);
    process.exit(1);
  },
);
