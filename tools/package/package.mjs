#!/usr/bin/env node
// npm run package: build the zip that the Functions host runs.
//
//   node tools/package/package.mjs [--out <file.zip>] [--skip-build]
//
// 1. `npm run build` (tsc → dist/, the portal → dist/web), unless --skip-build.
// 2. Stage the deployable tree in <dir of the zip>/app: host.json, package.json (its `main` names
//    dist/functions/index.js), the entry point as one esbuild bundle at that path with the chunks it
//    loads lazily beside it, and the built portal (dist/web) the app serves. Nothing else: the bundle
//    holds every dependency, so neither the unbundled dist/ nor node_modules travel with it.
// 3. Zip the staged tree with the system `zip` (default output: .package/gatehouse.zip).
//
// The staged folder is what azd deploys (azure.yaml `dist: .package/app`), so `azd deploy` and a
// manual zip deployment ship the same files. With Core Tools, `func start` runs in the staged folder
// (or the extracted zip) as it does in the project root.

import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { dirname, join, relative, resolve, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { bundleEntry } from './bundle.mjs';

const root = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');

/** The built portal, served by functions/portal.ts from dist/web beside the entry point's folder. */
const PORTAL_DIRECTORY = 'dist/web';

function fail(message) {
  console.error(`package: ${message}`);
  process.exit(1);
}

function parseArgs(argv) {
  const options = { out: join(root, '.package', 'gatehouse.zip'), build: true };
  for (let i = 0; i < argv.length; i += 1) {
    const arg = argv[i];
    if (arg === '--skip-build') options.build = false;
    else if (arg === '--out' && argv[i + 1]) options.out = resolve(argv[(i += 1)]);
    else fail(`unknown argument ${arg} (usage: package.mjs [--out <file.zip>] [--skip-build])`);
  }
  if (!options.out.endsWith('.zip')) fail('--out must name a .zip file');
  return options;
}

const toPosix = (path) => path.split(sep).join('/');

function run(command, args, options) {
  const result = spawnSync(command, args, { stdio: 'inherit', shell: process.platform === 'win32', ...options });
  if (result.error) fail(`${command} could not start: ${result.error.message}`);
  if (result.status !== 0) fail(`${command} ${args.join(' ')} exited with ${result.status}`);
}

/** Every file under `directory`, as absolute paths. */
function filesIn(directory) {
  return readdirSync(directory, { withFileTypes: true })
    .sort((a, b) => a.name.localeCompare(b.name))
    .flatMap((entry) => (entry.isDirectory() ? filesIn(join(directory, entry.name)) : [join(directory, entry.name)]));
}

async function main() {
  const options = parseArgs(process.argv.slice(2));
  const outDir = dirname(options.out);
  const stageDir = join(outDir, 'app');

  if (options.build) run('npm', ['run', 'build'], { cwd: root });

  const manifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const entry = typeof manifest.main === 'string' ? manifest.main : '';
  if (!entry || !existsSync(join(root, entry))) fail(`package.json main (${entry || 'unset'}) does not exist: build first`);
  if (!existsSync(join(root, PORTAL_DIRECTORY, 'index.html'))) fail(`${PORTAL_DIRECTORY} holds no portal: build first`);

  rmSync(stageDir, { recursive: true, force: true });
  rmSync(options.out, { force: true });
  const portal = filesIn(join(root, PORTAL_DIRECTORY))
    .filter((file) => !file.endsWith('.map'))
    .map((file) => toPosix(relative(root, file)));
  for (const file of ['host.json', 'package.json', ...portal]) {
    const target = join(stageDir, file);
    mkdirSync(dirname(target), { recursive: true });
    copyFileSync(join(root, file), target);
  }

  // The deployed entry point is the bundle: one module loads far faster than the ~1,000 files it
  // replaces (see the P6 benchmark), and it carries every dependency the app uses.
  await bundleEntry(join(root, entry), join(stageDir, entry));

  const zip = spawnSync('zip', ['-v'], { stdio: 'ignore' });
  if (zip.error) fail('the zip command is not installed (Debian/Ubuntu: apt-get install zip)');
  run('zip', ['-q', '-X', '-r', options.out, '.'], { cwd: stageDir });

  const staged = filesIn(stageDir);
  const bytes = staged.reduce((sum, file) => sum + statSync(file).size, 0);
  const mb = (value) => (value / 1024 / 1024).toFixed(1);
  console.log(
    `package: ${staged.length} files (${mb(bytes)} MB) → ${toPosix(relative(process.cwd(), options.out)) || options.out} (${mb(statSync(options.out).size)} MB); staged in ${toPosix(relative(process.cwd(), stageDir))}`,
  );
}

await main();
