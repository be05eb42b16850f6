import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, fmt, median, round, productionNodeOptions } from '../lib.js';
import { peakRssUnderLoad } from './auth.js';
import type { Scenario } from './common.js';

/**
 * P6: cold start, the time to import the whole app (`functions/index.js`, which registers every
 * function) in a fresh Node process, median of several; and Gatehouse's peak RSS (VmHWM) under the
 * P1 load.
 */

const APP_ENTRY_PATH = join(BENCH_DIR, '..', 'functions', 'index.js');
const APP_ENTRY = pathToFileURL(APP_ENTRY_PATH).href;

/** The entry point as `npm run package` deploys it: one bundled module (tools/package/bundle.mjs). */
function deployedBundle(): string {
  const directory = mkdtempSync(join(tmpdir(), 'gatehouse-bundle-'));
  writeFileSync(join(directory, 'package.json'), JSON.stringify({ type: 'module' }));
  const outfile = join(directory, 'index.js');
  const result = spawnSync(process.execPath, [join(BENCH_DIR, '..', '..', 'tools', 'package', 'bundle.mjs'), APP_ENTRY_PATH, outfile], { stdio: 'inherit' });
  if (result.status !== 0) throw new Error('bundling the app failed');
  return pathToFileURL(outfile).href;
}

function importOnce(entry: string): Promise<{ importMs: number; processMs: number }> {
  const script = `const t = performance.now(); await import(${JSON.stringify(entry)}); process.stdout.write('BENCH_IMPORT ' + (performance.now() - t) + '\\n');`;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
      env: { PATH: process.env.PATH ?? '', NODE_OPTIONS: productionNodeOptions() },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (chunk: Buffer) => (out += chunk.toString()));
    child.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
    child.once('exit', (code) => {
      const match = /BENCH_IMPORT ([\d.]+)/.exec(out);
      if (code !== 0 || !match?.[1]) return reject(new Error(`importing the app failed (${code}): ${err.slice(-2000)}`));
      resolve({ importMs: Number(match[1]), processMs: performance.now() - started });
    });
  });
}

export const coldStartScenario: Scenario = async (ctx) => {
  const bundle = deployedBundle();
  const runs = [];
  const unbundledRuns = [];
  for (let i = 0; i < (ctx.quick ? 3 : 7); i++) {
    runs.push(await importOnce(bundle));
    unbundledRuns.push(await importOnce(APP_ENTRY));
  }
  const importMs = median(runs.map((r) => r.importMs));
  const processMs = median(runs.map((r) => r.processMs));
  const unbundledMs = median(unbundledRuns.map((r) => r.importMs));
  const rss = ctx.shared.p1PeakRssMb ?? (await peakRssUnderLoad(ctx));
  return {
    rows: [
      {
        id: 'P6',
        scenario: 'P6 cold start: import the whole app as deployed (bundled, median)',
        gatehouse: fmt(importMs, 'ms'),
        baseline: '—',
        ratio: '',
        goal: '≤ 250 ms',
        met: importMs <= 250,
        note: `whole process ${fmt(processMs, 'ms')}`,
      },
      {
        id: 'P6',
        scenario: 'P6 cold start: import the unbundled build (dist/, median)',
        gatehouse: fmt(unbundledMs, 'ms'),
        baseline: '—',
        ratio: '',
        goal: 'info',
        met: null,
      },
      {
        id: 'P6',
        scenario: 'P6 peak RSS under the P1 load',
        gatehouse: fmt(rss, 'MB'),
        baseline: '—',
        ratio: '',
        goal: '≤ 200 MB',
        met: rss === undefined ? null : rss <= 200,
      },
    ],
    data: {
      importMs: round(importMs),
      processMs: round(processMs),
      runs: runs.map((r) => ({ importMs: round(r.importMs), processMs: round(r.processMs) })),
      peakRssMb: rss === undefined ? null : round(rss, 1),
    },
  };
};
