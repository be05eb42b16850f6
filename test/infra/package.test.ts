import { spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import { TEST_JWKS, TEST_PEPPER } from '../helpers/settings.js';
import { ROOT } from './arm.js';

/** Builds the deployment zip exactly as `npm run package` does (into a temporary folder) and inspects it. */

const manifest = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { main: string };

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
  it('holds the bundled entry point, its chunks, the built portal, host.json and package.json, and nothing else', () => {
    expect(manifest.main).toBe('dist/functions/index.js');
    for (const entry of ['host.json', 'package.json', manifest.main]) expect(entries, entry).toContain(entry);
    const shipped = [
      /^host\.json$/,
      /^package\.json$/,
      // The bundle, the chunks it loads lazily, and the licence texts of what they contain.
      /^dist\/functions\/index\.js(\.LEGAL\.txt)?$/,
      /^dist\/functions\/chunks\/[\w-]+\.js(\.LEGAL\.txt)?$/,
      // The portal the app serves (functions/portal.ts reads dist/web beside dist/functions).
      /^dist\/web\/index\.html$/,
      /^dist\/web\/assets\/[\w-]+\.(js|css|svg|png|ico|woff2?)$/,
    ];
    expect(entries.filter((entry) => !shipped.some((pattern) => pattern.test(entry)))).toEqual([]);
  });

  it('holds the built portal the app serves (page shell and content-hashed assets), without source maps', () => {
    expect(entries).toContain('dist/web/index.html');
    expect(entries.some((entry) => /^dist\/web\/assets\/index-[\w-]+\.js$/.test(entry))).toBe(true);
    expect(entries.some((entry) => entry.startsWith('dist/web/') && entry.endsWith('.map'))).toBe(false);
  });

  it('ships no node_modules and none of the unbundled build: the bundle carries what the app imports', () => {
    expect(entries.filter((entry) => entry.includes('node_modules/'))).toEqual([]);
    expect(entries.filter((entry) => /^dist\/(shared|local|functions\/[^/]+\.js$)/.test(entry) && entry !== manifest.main)).toEqual([]);
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
      ['tooling and CI', /^(tools|dist\/tools|\.ci|\.git|\.github|\.vscode|coverage|bench)\//],
      ['TypeScript and test configuration', /^(tsconfig.*\.json|vitest.*)$/],
      ['documentation', /\.md$/],
      ['dotfiles at the root', /^\.[^/]+$/],
      ['nested archives', /\.zip$/],
    ];
    for (const [what, pattern] of forbidden) {
      expect(
        entries.filter((entry) => pattern.test(entry)),
        what,
      ).toEqual([]);
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

  it('runs from the extracted package alone, as the Functions host loads it: every function registers and answers', () => {
    const appDir = join(workDir, 'app-extracted');
    run('unzip', ['-q', zipPath, '-d', appDir], workDir);
    // The Node worker supplies @azure/functions-core; this probe does the same, outside the package,
    // records what registers, then calls the HTTP functions that need no storage.
    const probe = join(workDir, 'probe.mjs');
    writeFileSync(
      probe,
      `
import { createRequire } from 'node:module';
import { pathToFileURL } from 'node:url';
const Module = createRequire(import.meta.url)('node:module');
const registered = new Map();
const core = {
  version: '4.0.0',
  registerFunction: (metadata, handler) => { registered.set(metadata.name, handler); return { dispose() {} }; },
  setProgrammingModel() {}, getProgrammingModel() {}, registerHook: () => ({ dispose() {} }), log() {}, Disposable: class {},
};
const load = Module._load;
Module._load = function (request, parent, isMain) { return request === '@azure/functions-core' ? core : load.call(this, request, parent, isMain); };
await import(pathToFileURL(process.argv[2]).href);
const context = { invocationId: 'probe', triggerMetadata: {}, log() {}, info() {}, warn() {}, error() {} };
const call = async (name, path, params) => {
  const url = new URL(path, 'http://127.0.0.1:7071');
  const response = await registered.get(name)({ method: 'GET', url: url.href, headers: new Headers(), query: url.searchParams, params }, context);
  return { status: response.status ?? 200, type: response.headers?.['Content-Type'] ?? response.headers?.['content-type'], length: String(response.body ?? '').length, body: name === 'openapi' ? JSON.parse(response.body) : undefined };
};
const shell = await call('portal', '/_portal/', { path: '' });
const asset = await call('portal', '/_portal/assets/' + process.argv[3], { path: 'assets/' + process.argv[3] });
const openapi = await call('openapi', '/openapi.json', {});
console.log(JSON.stringify({ registered: [...registered.keys()], shell, asset, openapi: { status: openapi.status, paths: Object.keys(openapi.body.paths).length } }));
`,
    );
    const portalScript = entries.find((entry) => /^dist\/web\/assets\/index-[\w-]+\.js$/.test(entry))?.slice('dist/web/assets/'.length) ?? '';
    const result = spawnSync(process.execPath, [probe, join(appDir, manifest.main), portalScript], {
      cwd: appDir,
      encoding: 'utf8',
      env: {
        PATH: process.env.PATH ?? '',
        STORAGE: 'UseDevelopmentStorage=true',
        AUTH_ISSUER: 'https://login.example.test/tenant/v2.0',
        AUTH_AUDIENCE: 'api://gatehouse',
        AUTH_JWKS: TEST_JWKS,
        TOKEN_PEPPERS: TEST_PEPPER,
        CHANGE_FEED_POLL_MS: '0',
        LOG_LEVEL: 'error',
      },
    });
    expect(result.status, `${result.stdout}\n${result.stderr}`).toBe(0);
    const outcome = JSON.parse(result.stdout.trim().split('\n').at(-1) ?? '{}') as {
      registered: string[];
      shell: { status: number; type: string };
      asset: { status: number; type: string; length: number };
      openapi: { status: number; paths: number };
    };
    expect(outcome.registered.sort()).toEqual(declarations.map((declaration) => declaration.name).sort());
    expect(outcome.shell).toMatchObject({ status: 200, type: 'text/html; charset=utf-8' });
    expect(outcome.asset.status).toBe(200);
    expect(outcome.asset.length).toBeGreaterThan(1000);
    expect(outcome.openapi.status).toBe(200);
    expect(outcome.openapi.paths).toBeGreaterThan(50);
  });

  it('loads every lazily loaded chunk from the extracted package alone', () => {
    const appDir = join(workDir, 'app-extracted');
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
