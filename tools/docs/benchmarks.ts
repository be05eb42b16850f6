import { code, table } from './regions.js';

/** The latest full benchmark results (docs/benchmarks.md), from the committed bench/results.json. */

export interface BenchmarkRow {
  readonly id: string;
  readonly scenario: string;
  readonly gatehouse: string;
  readonly baseline: string;
  readonly ratio: string;
  readonly goal: string;
  readonly met: boolean | null;
  readonly note?: string;
}

export interface BenchmarkResults {
  readonly date: string;
  readonly mode: 'full' | 'quick';
  readonly sizes: readonly string[];
  readonly scenarios: readonly string[];
  readonly machine: {
    readonly nproc: number;
    readonly node: string;
    readonly cpu: string;
    readonly loadAverage: readonly number[];
    readonly loadAverageAfter?: readonly number[];
  };
  readonly seconds: number;
  readonly durations: Readonly<Record<string, number>>;
  readonly rows: readonly BenchmarkRow[];
}

export function renderBenchmarkResults(results: BenchmarkResults): string {
  const when = `${results.date.slice(0, 10)} (${results.date.slice(11, 16)} UTC)`;
  const load = (values: readonly number[] | undefined) => (values?.[0] === undefined ? undefined : values[0].toFixed(1));
  const after = load(results.machine.loadAverageAfter);
  const machine =
    `${results.machine.nproc} CPUs, ${results.machine.cpu}, Node ${results.machine.node}, ` +
    `load average ${load(results.machine.loadAverage) ?? '?'} before${after ? ` and ${after} after` : ''}`;
  const summary =
    `Run on ${when}, ${results.mode} mode (sizes ${results.sizes.join(' vs ')}), ${Math.round(results.seconds)} s ` +
    `(${results.scenarios.map((id) => `${id} ${Math.round(results.durations[id] ?? 0)} s`).join(', ')}): ${machine}.`;
  const rows = results.rows.map((row) => [row.scenario, row.gatehouse, row.baseline, row.ratio, row.goal, row.met === null ? '' : row.met ? 'yes' : '**no**']);
  const goals = results.rows.filter((row) => row.met !== null);
  const notes = results.rows.filter((row) => row.note).map((row) => `- ${row.id}: ${row.note}`);
  return `${[
    summary,
    table(['scenario', 'Gatehouse', 'baseline', 'ratio', 'goal', 'met?'], rows),
    `${goals.filter((row) => row.met).length} of ${goals.length} goals met. Source: ${code('bench/results.json')}.`,
    ...(notes.length > 0 ? [notes.join('\n')] : []),
  ].join('\n\n')}\n`;
}
