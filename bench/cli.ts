/** Command line of `npm run bench`: scenario selection, sizes and --quick, validated. */

export const SCENARIO_IDS = ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P8'] as const;
export type ScenarioId = (typeof SCENARIO_IDS)[number];

/** Each scenario also answers to a name. */
export const SCENARIO_NAMES: Record<ScenarioId, string> = {
  P1: 'auth',
  P2: 'pat-create',
  P3: 'sweep',
  P4: 'audit-writer',
  P5: 'audit-page',
  P6: 'cold-start',
  P7: 'propagation',
  P8: 'isolation',
};

/** Data sizes of P3 (tokens) and P5 (audit events). */
export const SIZES: Record<string, number> = { '100': 100, '1k': 1000, '10k': 10_000, '100k': 100_000 };
export const DEFAULT_SIZES = { full: ['1k', '100k'], quick: ['1k', '10k'] } as const;

const validScenarios = () => SCENARIO_IDS.map((id) => `${id} (${SCENARIO_NAMES[id]})`).join(', ');
const validSizes = () => Object.keys(SIZES).join(', ');

export const USAGE = `usage: npm run bench [-- [--quick] [--sizes=<small>,<large>] [scenario ...]]
  scenarios: ${validScenarios()}; default: all
  sizes (P3 tokens, P5 audit events): ${validSizes()}; default ${DEFAULT_SIZES.full.join(',')}, with --quick ${DEFAULT_SIZES.quick.join(',')}
  --quick  every scenario at small sizes and short durations (under two minutes)`;

export class UsageError extends Error {}

export interface BenchOptions {
  readonly quick: boolean;
  readonly help: boolean;
  readonly scenarios: ScenarioId[];
  readonly sizes: [number, number];
  readonly sizeNames: [string, string];
}

export function parseArgs(argv: readonly string[]): BenchOptions {
  let quick = false;
  let help = false;
  let sizeArg: string | undefined;
  const scenarios: ScenarioId[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i] as string;
    if (arg === '--quick') quick = true;
    else if (arg === '--help' || arg === '-h') help = true;
    else if (arg === '--sizes' || arg === '--size') sizeArg = argv[++i] ?? '';
    else if (arg.startsWith('--sizes=') || arg.startsWith('--size=')) sizeArg = arg.slice(arg.indexOf('=') + 1);
    else if (arg.startsWith('-')) throw new UsageError(`unknown option '${arg}'`);
    else {
      const wanted = arg.toLowerCase();
      const id = SCENARIO_IDS.find((key) => key.toLowerCase() === wanted || SCENARIO_NAMES[key] === wanted);
      if (!id) throw new UsageError(`unknown scenario '${arg}'; valid scenarios: ${validScenarios()}`);
      if (!scenarios.includes(id)) scenarios.push(id);
    }
  }
  const names = sizeArg === undefined ? [...(quick ? DEFAULT_SIZES.quick : DEFAULT_SIZES.full)] : sizeArg.split(',').map((size) => size.trim().toLowerCase());
  for (const name of names) {
    if (!Object.hasOwn(SIZES, name)) throw new UsageError(`unknown size '${name}'; valid sizes: ${validSizes()}`);
  }
  if (names.length !== 2 || (SIZES[names[0] as string] as number) >= (SIZES[names[1] as string] as number)) {
    throw new UsageError(`--sizes takes two sizes, the smaller first (e.g. --sizes=1k,100k); valid sizes: ${validSizes()}`);
  }
  const [small, large] = names as [string, string];
  return {
    quick,
    help,
    sizes: [SIZES[small] as number, SIZES[large] as number],
    sizeNames: [small, large],
    scenarios: scenarios.length ? [...scenarios].sort() : [...SCENARIO_IDS],
  };
}
