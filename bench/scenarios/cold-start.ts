import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { BENCH_DIR, fmt, median, round } from '../lib.js';
import { peakRssUnderLoad } from './auth.js';
import type { Scenario } from './common.js';

/**
 * P6: cold start, the time to import the whole app (`functions/index.js`, which registers every
 * function) in a fresh Node process, median of several; and Gatehouse's peak RSS (VmHWM) under the
 * P1 load.
 */

const APP_ENTRY = pathToFileURL(join(BENCH_DIR, '..', 'functions', 'index.js')).href;

function importOnce(): Promise<{ importMs: number; processMs: number }> {
  const script = `const t = performance.now(); await import(${JSON.stringify(APP_ENTRY)}); process.stdout.write('BENCH_IMPORT ' + (performance.now() - t) + '\\n');`;
  const started = performance.now();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--input-type=module', '-e', script], { env: { PATH: process.env.PATH ?? '' }, stdio: ['ignore', 'pipe', 'pipe'] });
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
  const runs = [];
  for (let i = 0; i < (ctx.quick ? 3 : 7); i++) runs.push(await importOnce());
  const importMs = median(runs.map((r) => r.importMs));
  const processMs = median(runs.map((r) => r.processMs));
  const rss = ctx.shared.p1PeakRssMb ?? (await peakRssUnderLoad(ctx));
  return {
    rows: [
      { id: 'P6', scenario: 'P6 cold start: import the whole app (median)', gatehouse: fmt(importMs, 'ms'), baseline: '—', ratio: '', goal: '≤ 250 ms', met: importMs <= 250, note: `whole process ${fmt(processMs, 'ms')}` },
      { id: 'P6', scenario: 'P6 peak RSS under the P1 load', gatehouse: fmt(rss, 'MB'), baseline: '—', ratio: '', goal: '≤ 200 MB', met: rss === undefined ? null : rss <= 200 },
    ],
    data: { importMs: round(importMs), processMs: round(processMs), runs: runs.map((r) => ({ importMs: round(r.importMs), processMs: round(r.processMs) })), peakRssMb: rss === undefined ? null : round(rss, 1) },
  };
};
