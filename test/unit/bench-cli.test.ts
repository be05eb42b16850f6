import { describe, expect, it } from 'vitest';
import { parseArgs, UsageError } from '../../bench/cli.js';

describe('npm run bench arguments', () => {
  it('runs every scenario at the full sizes by default, and small sizes with --quick', () => {
    expect(parseArgs([])).toMatchObject({ quick: false, scenarios: ['P1', 'P2', 'P3', 'P4', 'P5', 'P6', 'P7', 'P8'], sizes: [1000, 100_000] });
    expect(parseArgs(['--quick'])).toMatchObject({ quick: true, sizes: [1000, 10_000] });
  });

  it('selects scenarios by id or name, in any case, once each', () => {
    expect(parseArgs(['p3', 'P1', 'audit-page', 'p1']).scenarios).toEqual(['P1', 'P3', 'P5']);
    expect(parseArgs(['--sizes=100,10k', 'sweep']).sizes).toEqual([100, 10_000]);
    expect(parseArgs(['--sizes', '10k,100k']).sizeNames).toEqual(['10k', '100k']);
  });

  it('refuses unknown scenarios and sizes with the list of valid ones', () => {
    expect(() => parseArgs(['p9'])).toThrow(UsageError);
    expect(() => parseArgs(['p9'])).toThrow(
      /valid scenarios: P1 \(auth\), P2 \(pat-create\), P3 \(sweep\), P4 \(audit-writer\), P5 \(audit-page\), P6 \(cold-start\), P7 \(propagation\), P8 \(isolation\)/,
    );
    expect(() => parseArgs(['--sizes=1k,1m'])).toThrow(/unknown size '1m'; valid sizes: 100, 1k, 10k, 100k/);
    expect(() => parseArgs(['--sizes=100k,1k'])).toThrow(/smaller first.*valid sizes: 100, 1k, 10k, 100k/);
    expect(() => parseArgs(['--sizes=1k'])).toThrow(/two sizes/);
    expect(() => parseArgs(['--fast'])).toThrow(/unknown option '--fast'/);
  });
});
