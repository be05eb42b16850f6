import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vite';

// The portal: Preact (JSX) compiled by Vite's esbuild into content-hashed files under dist/web,
// which functions/portal.ts serves at /_portal/. No CDN: everything the page loads comes from the app.
export default defineConfig({
  root: fileURLToPath(new URL('.', import.meta.url)),
  base: '/_portal/',
  publicDir: false,
  esbuild: { jsx: 'automatic', jsxImportSource: 'preact' },
  build: {
    outDir: fileURLToPath(new URL('../dist/web', import.meta.url)),
    emptyOutDir: true,
    target: 'es2022',
    // The content security policy allows no inline script: the preload helper must not be inlined.
    modulePreload: { polyfill: false },
    assetsInlineLimit: 0,
    sourcemap: false,
    reportCompressedSize: false,
  },
});
