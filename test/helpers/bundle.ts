import { createHash } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { build } from 'esbuild';

const ROOT = resolve(import.meta.dirname, '../..');

/**
 * Bundles a TypeScript entry of the project (e.g. `local/start.ts`) into one ES module that runs in
 * a child process as the built `dist/` file would. Packages stay external; the bundle lives under
 * node_modules/.cache so that they resolve from there.
 */
export async function bundleEntry(entry: string): Promise<string> {
  const directory = join(ROOT, 'node_modules', '.cache', 'gatehouse-tests');
  mkdirSync(directory, { recursive: true });
  const name = `${entry.replace(/[^a-z0-9]+/gi, '-')}-${createHash('sha256').update(`${process.pid}${entry}`).digest('hex').slice(0, 8)}.mjs`;
  const outfile = join(directory, name);
  await build({
    entryPoints: [join(ROOT, entry)],
    outfile,
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    packages: 'external',
    sourcemap: 'inline',
    logLevel: 'silent',
  });
  return outfile;
}

export const PROJECT_ROOT = ROOT;
