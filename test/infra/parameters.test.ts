import { spawnSync } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { OUT, ROOT } from './arm.js';

/**
 * Bad input is refused by the templates themselves: parameter files with out-of-range or missing
 * values are compiled with the real Bicep CLI (the one tools/bicep/run.sh found, passed as $BICEP).
 */

const bicep = process.env.BICEP;
const cases = join(OUT, 'cases');
// Same depth as test/infra/, so `using '../../infra/main.bicep'` keeps resolving after the copy.
const casesUsing = `using '../../../infra/main.bicep'`;

function baseParams(): string {
  return readFileSync(join(ROOT, 'test', 'infra', 'snapshot.bicepparam'), 'utf8').replace(/^using .*$/m, casesUsing);
}

/** Compiles a parameters file; returns the exit status and everything Bicep printed. */
function buildParams(name: string, text: string): { status: number | null; output: string } {
  if (!bicep) throw new Error('BICEP is not set: run these tests with `npm run test:infra`');
  mkdirSync(cases, { recursive: true });
  const file = join(cases, `${name}.bicepparam`);
  writeFileSync(file, text);
  const result = spawnSync(bicep, ['build-params', file, '--stdout'], { encoding: 'utf8', env: process.env });
  return { status: result.status, output: `${result.stdout}${result.stderr}` };
}

describe('parameter validation by the template', () => {
  it('accepts the fixture parameters', () => {
    const { status, output } = buildParams('valid', baseParams());
    expect(status, output).toBe(0);
  });

  it('refuses values outside the allowed values and ranges', () => {
    const overrides = [
      `param functionRuntimeVersion = '18'`,
      `param maximumInstanceCount = 5`,
      `param instanceMemoryMB = 1024`,
      `param keyVaultSoftDeleteRetentionInDays = 365`,
      `param principalType = 'Group'`,
    ];
    const text = `${baseParams()}\n${overrides.join('\n')}\n`;
    const { status, output } = buildParams('out-of-range', text);
    expect(status).not.toBe(0);
    const lines = text.split('\n');
    for (const override of overrides) {
      const line = lines.indexOf(override) + 1;
      expect(output, override).toMatch(new RegExp(`out-of-range\\.bicepparam\\(${line},\\d+\\) : Error BCP`));
    }
  });

  it('refuses a pepper list too short to hold one 32-byte pepper', () => {
    const text = baseParams().replace(/^param tokenPeppers = .*$/m, `param tokenPeppers = 'v1:c2hvcnQ='`);
    const { status, output } = buildParams('short-pepper', text);
    expect(status).not.toBe(0);
    expect(output).toMatch(/minimum allowable length is 46/);
  });

  it('refuses a missing required parameter and names it', () => {
    const text = baseParams().replace(/^param authIssuer = .*$/m, '');
    const { status, output } = buildParams('missing', text);
    expect(status).not.toBe(0);
    expect(output).toMatch(/missing an assignment in the params file: "authIssuer"/);
  });
});
