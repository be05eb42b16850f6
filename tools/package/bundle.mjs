// Bundles the compiled entry point (dist/functions/index.js) and everything it imports into one
// ES module. Loading one file instead of about a thousand is most of a cold start's import time.
// What the code imports dynamically (the Azure identity libraries, loaded on the first token request)
// goes to `chunks/` beside it, so it is not even parsed until it is needed.
//
//   node tools/package/bundle.mjs <entry.js> <out.js>
//
// The worker's `@azure/functions-core` stays external: the Node worker provides it at run time.

import { build } from 'esbuild';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

// zod's namespace re-exports every message locale (about 360 KB); Gatehouse speaks English only and never
// reads z.locales, so the bundle gets a locale index with `en` alone.
const englishOnlyZodLocales = {
  name: 'english-only-zod-locales',
  setup(build) {
    build.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](classic|core)[\\/]/.test(args.importer)
        ? { path: join(args.resolveDir, '..', 'locales', 'index.js'), namespace: 'zod-locales' }
        : undefined,
    );
    build.onLoad({ filter: /.*/, namespace: 'zod-locales' }, (args) => ({
      contents: `export { default as en } from ${JSON.stringify(join(dirname(args.path), 'en.js'))};`,
      resolveDir: dirname(args.path),
      loader: 'js',
    }));
  },
};

export async function bundleEntry(entry, outfile) {
  await build({
    entryPoints: { [basename(outfile, '.js')]: entry },
    outdir: dirname(outfile),
    splitting: true,
    chunkNames: 'chunks/[name]-[hash]',
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: 'node20',
    external: ['@azure/functions-core'],
    plugins: [englishOnlyZodLocales],
    // CommonJS dependencies call require(); an ES module bundle provides it.
    banner: { js: "import { createRequire as __gatehouseCreateRequire } from 'node:module'; const require = __gatehouseCreateRequire(import.meta.url);" },
    legalComments: 'linked',
    logLevel: 'warning',
  });
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const [entry, outfile] = process.argv.slice(2);
  if (!entry || !outfile) {
    console.error('usage: bundle.mjs <entry.js> <out.js>');
    process.exit(2);
  }
  await bundleEntry(entry, outfile);
}
