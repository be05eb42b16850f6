import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { declarations } from '../../functions/declarations.js';
import { AUDIT_ACTION_LIST } from '../../shared/audit/actions.js';
import { renderAuditActions } from './audit.js';
import { renderBenchmarkResults, type BenchmarkResults } from './benchmarks.js';
import { readRegion, replaceRegion } from './regions.js';
import { renderBackgroundFunctions, renderRouteTable } from './routes.js';
import { renderSettingsReference } from './settings.js';

/**
 * `npm run docs` (also part of `npm run build`): rewrites the generated parts of docs/, each from
 * the one place its facts live. `--check` only reports the pages that are out of date (exit 1).
 * test/unit/docs.test.ts fails while a committed page differs from what this would write.
 */

/** The project root, from the sources (tools/docs) or the build (dist/tools/docs). */
export const ROOT = (() => {
  let directory = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(directory, 'package.json'))) {
    const parent = dirname(directory);
    if (parent === directory) throw new Error('no package.json above tools/docs');
    directory = parent;
  }
  return directory;
})();

export interface GeneratedPart {
  readonly file: string;
  readonly name: string;
  readonly source: string;
  readonly render: () => string;
}

export const GENERATED_PARTS: readonly GeneratedPart[] = [
  { file: 'docs/configuration.md', name: 'settings', source: 'shared/config.ts', render: renderSettingsReference },
  { file: 'docs/api.md', name: 'routes', source: 'functions/declarations.ts', render: () => renderRouteTable(declarations) },
  { file: 'docs/api.md', name: 'audit-actions', source: 'shared/audit/actions.ts', render: () => renderAuditActions(AUDIT_ACTION_LIST) },
  { file: 'docs/architecture.md', name: 'functions', source: 'functions/declarations.ts', render: () => renderBackgroundFunctions(declarations) },
  {
    file: 'docs/benchmarks.md',
    name: 'results',
    source: 'bench/results.json',
    render: () => renderBenchmarkResults(JSON.parse(readFileSync(join(ROOT, 'bench', 'results.json'), 'utf8')) as BenchmarkResults),
  },
];

/** Each generated part as committed and as its source renders it now. */
export function generatedParts(): { part: GeneratedPart; committed: string; expected: string }[] {
  return GENERATED_PARTS.map((part) => ({
    part,
    committed: readRegion(readFileSync(join(ROOT, part.file), 'utf8'), part.name),
    expected: part.render(),
  }));
}

function main(check: boolean): void {
  const stale = generatedParts().filter(({ committed, expected }) => committed !== expected);
  for (const { part, expected } of stale) {
    if (check) {
      console.error(`${part.file}: the '${part.name}' part is out of date with ${part.source} (run npm run docs)`);
      continue;
    }
    const path = join(ROOT, part.file);
    writeFileSync(path, replaceRegion(readFileSync(path, 'utf8'), part.name, expected));
    console.log(`docs: ${part.file} (${part.name}, from ${part.source})`);
  }
  if (check && stale.length > 0) process.exit(1);
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main(process.argv.includes('--check'));
