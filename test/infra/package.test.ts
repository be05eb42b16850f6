import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROOT } from './arm.js';

/** Builds the deployment zip exactly as `npm run package` does (into a temporary folder) and inspects it. */

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as {
  main: string;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
};

let workDir = '';
let zipPath = '';
let entries: string[] = [];

function run(command: string, args: string[], cwd: string): string {
  const result = spawnSync(command, args, { cwd, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  if (result.status !== 0) {
    throw new Error(`${command} ${args.join(' ')} failed (${result.status}):\n${result.stdout}\n${result.stderr}`);
  }
  return result.stdout;
}

beforeAll(() => {
  workDir = mkdtempSync(join(tmpdir(), 'gatehouse-package-'));
  zipPath = join(workDir, 'gatehouse.zip');
  run(process.execPath, [join(ROOT, 'tools', 'package', 'package.mjs'), '--out', zipPath], ROOT);
  entries = run('unzip', ['-Z1', zipPath], workDir)
    .split('\n')
    .filter((line) => line && !line.endsWith('/'));
});

afterAll(() => {
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('deployment package', () => {
  it('holds the entry points the Functions host loads', () => {
    expect(manifest.main).toBe('dist/functions/index.js');
    for (const entry of ['host.json', 'package.json', manifest.main, 'node_modules/@azure/functions/package.json']) {
      expect(entries, entry).toContain(entry);
    }
  });

  it('holds the built portal the app serves (page shell and content-hashed assets), without source maps', () => {
    expect(entries).toContain('dist/web/index.html');
    expect(entries.some((entry) => /^dist\/web\/assets\/index-[\w-]+\.js$/.test(entry))).toBe(true);
    expect(entries.some((entry) => entry.startsWith('dist/web/') && entry.endsWith('.map'))).toBe(false);
  });

  it('holds every production dependency and no dev-only one', () => {
    for (const dependency of Object.keys(manifest.dependencies ?? {})) {
      expect(entries, dependency).toContain(`node_modules/${dependency}/package.json`);
    }
    // A dev dependency that a production package also needs (the lockfile says so) is shipped.
    const lock = JSON.parse(readFileSync(join(ROOT, 'package-lock.json'), 'utf8')) as { packages: Record<string, { dev?: boolean }> };
    for (const dependency of Object.keys(manifest.devDependencies ?? {})) {
      if (dependency in (manifest.dependencies ?? {}) || lock.packages[`node_modules/${dependency}`]?.dev !== true) continue;
      expect(entries.some((entry) => entry.startsWith(`node_modules/${dependency}/`)), dependency).toBe(false);
    }
  });

  it('leaves out sources, tests, local settings and secrets, infrastructure and tooling', () => {
    const forbidden: [string, RegExp][] = [
      ['TypeScript files', /\.[cm]?ts$/],
      ['source maps', /\.map$/],
      ['tests', /^(test|dist\/test)\//],
      ['local settings', /(^|\/)local\.settings\.json$/],
      ['generated local secrets', /^\.local\//],
      ['the local runner', /^(local|dist\/local)\//],
      ['TypeScript sources', /^(functions|shared)\//],
      ['Azurite data', /(^|\/)(__azurite_db|__blobstorage__|__queuestorage__|\.azurite\/)/],
      ['infrastructure', /^(infra\/|azure\.yaml$|bicepconfig\.json$|\.bicep\/)/],
      ['tooling and CI', /^(tools|\.ci|\.git|\.github|\.vscode|coverage|bench)\//],
      ['TypeScript and test configuration', /^(tsconfig.*\.json|vitest.*)$/],
      ['dotfiles at the root', /^\.[^/]+$/],
      ['nested archives', /\.zip$/],
    ];
    for (const [what, pattern] of forbidden) {
      expect(entries.filter((entry) => pattern.test(entry)), what).toEqual([]);
    }
  });

  it('packages host.json and package.json unchanged', () => {
    const extracted = (name: string) => run('unzip', ['-p', zipPath, name], workDir);
    expect(extracted('host.json')).toBe(readFileSync(join(ROOT, 'host.json'), 'utf8'));
    expect(extracted('package.json')).toBe(readFileSync(join(ROOT, 'package.json'), 'utf8'));
  });

  it('is staged next to the zip, in the folder azd deploys', () => {
    // package.mjs stages in <dir of the zip>/app; its default zip is .package/gatehouse.zip.
    expect(existsSync(join(workDir, 'app', 'host.json'))).toBe(true);
    const azureYaml = readFileSync(join(ROOT, 'azure.yaml'), 'utf8')
      .split('\n')
      .map((line) => line.trim());
    for (const line of ['api:', 'language: ts', 'host: function', 'remoteBuild: false', 'dist: .package/app', 'run: npm run package']) {
      expect(azureYaml, line).toContain(line);
    }
  });

  it('deploys the entry point as one bundled module; only its lazily loaded chunks sit beside it', () => {
    const entry = run('unzip', ['-p', zipPath, 'dist/functions/index.js'], workDir);
    // Relative imports reach only the bundle's own chunks, and each of them is in the package.
    const relative = [...entry.matchAll(/^\s*(?:import|export)\b[^\n]*\bfrom\s+['"](\.{1,2}\/[^'"]+)['"]/gm)].map((match) => match[1] ?? '');
    for (const specifier of relative) {
      expect(specifier).toMatch(/^\.\/chunks\//);
      expect(entries).toContain(`dist/functions/${specifier.slice(2)}`);
    }
    const lazy = [...entry.matchAll(/\bimport\(\s*['"](\.\/chunks\/[^'"]+)['"]\s*\)/g)].map((match) => match[1] ?? '');
    expect(lazy.length).toBeGreaterThan(0);
    for (const specifier of lazy) expect(entries).toContain(`dist/functions/${specifier.slice(2)}`);
    expect(entry).toContain('@azure/functions-core');
  });

  it('loads the function entry point from the extracted package alone', () => {
    const appDir = join(workDir, 'app-extracted');
    run('unzip', ['-q', zipPath, '-d', appDir], workDir);
    // Outside the Functions host @azure/functions only warns on registration ("test mode").
    const result = spawnSync(
      process.execPath,
      ['--input-type=module', '-e', `await import('./${manifest.main}'); console.log('entry point loaded');`],
      { cwd: appDir, encoding: 'utf8', env: { PATH: process.env.PATH ?? '' } },
    );
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    expect(result.stdout).toContain('entry point loaded');
    // The lazily loaded chunks (the identity libraries, on the first token request) load from the package too.
    const entry = run('unzip', ['-p', zipPath, 'dist/functions/index.js'], workDir);
    for (const [, specifier] of entry.matchAll(/\bimport\(\s*['"](\.\/chunks\/[^'"]+)['"]\s*\)/g)) {
      const chunk = spawnSync(process.execPath, ['--input-type=module', '-e', `await import('./dist/functions/${(specifier ?? '').slice(2)}');`], {
        cwd: appDir,
        encoding: 'utf8',
        env: { PATH: process.env.PATH ?? '' },
      });
      expect(chunk.status, `${specifier}: ${chunk.stderr}`).toBe(0);
    }
  });
});
