// @ts-check
import js from '@eslint/js';
import { defineConfig } from 'eslint/config';
import globals from 'globals';
import tseslint from 'typescript-eslint';
import gatehouse from './tools/lint/area-layers.mjs';

/** Code that may read the environment: the configuration module and the tooling that runs beside the app. */
const ENVIRONMENT_READERS = ['shared/config.ts', 'local/**', 'tools/**', 'bench/**', 'test/**', '*.config.ts', 'web/vite.config.ts'];
const ENVIRONMENT_MESSAGE = 'Read settings through shared/config.ts (validated once, typed), not from the environment directly.';

/**
 * The areas of shared/ (shared/<area>/), lowest layer first. An area imports only areas in lower layers,
 * so no two areas depend on each other: tokens record audit events and send notifications; the directory
 * applies token policies; lifecycle sweeps tokens and SSH keys and sends their reminders; pipelines and
 * packaging build on the directory. A step that needs a higher area belongs to the function that
 * orchestrates it (functions/) or is passed in. Type-only imports are not counted (the Organization type
 * is everyone's vocabulary); modules directly in shared/ belong to no area.
 */
const AREA_LAYERS = [
  ['runtime', 'telemetry', 'secrets'],
  ['http'],
  ['auth', 'storage', 'openapi'],
  ['coherence', 'portal'],
  ['audit'],
  ['notifications'],
  ['tokens'],
  ['directory', 'sshkeys'],
  ['lifecycle', 'packaging', 'pipelines'],
];
/** Modules that compose areas: the request pipeline authenticates (tokens), resolves the organization (directory) and authorizes. */
const COMPOSITION_MODULES = ['shared/http/endpoint.ts'];

export default defineConfig(
  {
    ignores: ['dist/', 'dist-bench/', 'coverage/', '.local/', '.package/', '.azurite/', 'tools/bicep/', 'test/fixtures/', 'web/src/api/schema.d.ts'],
  },
  js.configs.recommended,
  tseslint.configs.strictTypeChecked,
  {
    languageOptions: {
      parserOptions: {
        // Each file is checked with the types of the tsconfig that includes it (web/ has its own);
        // the few configuration files no tsconfig includes get a default program.
        projectService: { allowDefaultProject: ['vitest.ui.config.ts', 'vitest.infra.config.ts', 'web/vite.config.ts'] },
        tsconfigRootDir: import.meta.dirname,
      },
    },
    linterOptions: { reportUnusedDisableDirectives: 'error' },
    rules: {
      // Numbers and booleans read naturally in messages; objects, unknowns and nullish values still need a decision.
      '@typescript-eslint/restrict-template-expressions': ['error', { allowNumber: true, allowBoolean: true }],
      // `() => setState(x)` and `return resolve()` in a void function are the usual shorthand; a void value used anywhere else is still an error.
      '@typescript-eslint/no-confusing-void-expression': ['error', { ignoreArrowShorthand: true, ignoreVoidReturningFunctions: true }],
      // Handlers are async by contract (the Functions host and endpoint() take promises), and `async` keeps a synchronous
      // throw a rejection; the promise rules that find real mistakes (floating, misused, awaited non-promises) stay on.
      '@typescript-eslint/require-await': 'off',
      // As the compiler's noUnused* options: a leading underscore marks a binding that is unused on purpose.
      '@typescript-eslint/no-unused-vars': [
        'error',
        { argsIgnorePattern: '^_', varsIgnorePattern: '^_', caughtErrorsIgnorePattern: '^_', destructuredArrayIgnorePattern: '^_', ignoreRestSiblings: true },
      ],
      // Values read back from storage rows are converted on purpose (a row's type is asserted by its reader, not checked),
      // and `+1` beside `-1` reads as a signed step.
      '@typescript-eslint/no-unnecessary-type-conversion': 'off',
      // Prettier may break a chain before `[key]` (its semicolons rule out the ASI hazard this rule is about).
      'no-unexpected-multiline': 'off',
      // Input validation matches control characters on purpose (names, descriptions, header values, table keys).
      'no-control-regex': 'off',
      '@typescript-eslint/no-non-null-assertion': 'error',
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: ENVIRONMENT_MESSAGE }],
      'no-restricted-imports': [
        'error',
        {
          paths: [
            { name: 'node:process', importNames: ['env'], message: ENVIRONMENT_MESSAGE },
            { name: 'process', importNames: ['env'], message: ENVIRONMENT_MESSAGE },
          ],
        },
      ],
    },
  },
  {
    files: ['shared/**/*.ts'],
    plugins: { gatehouse },
    rules: { 'gatehouse/area-layers': ['error', { layers: AREA_LAYERS, composition: COMPOSITION_MODULES }] },
  },
  {
    files: ENVIRONMENT_READERS,
    rules: { 'no-restricted-properties': 'off', 'no-restricted-imports': 'off' },
  },
  {
    // Tests read JSON bodies as `any` and assert on them; a wrong guess fails the test, so the unsafe-any
    // rules and non-null assertions would only add noise there.
    files: ['test/**'],
    rules: {
      '@typescript-eslint/no-explicit-any': 'off',
      '@typescript-eslint/no-unsafe-argument': 'off',
      '@typescript-eslint/no-unsafe-assignment': 'off',
      '@typescript-eslint/no-unsafe-call': 'off',
      '@typescript-eslint/no-unsafe-member-access': 'off',
      '@typescript-eslint/no-unsafe-return': 'off',
      '@typescript-eslint/no-non-null-assertion': 'off',
      // Teardown guards setup that may have failed (`await env?.stop()` on a `let env: TestEnvironment`).
      '@typescript-eslint/no-unnecessary-condition': 'off',
    },
  },
  {
    files: ['**/*.js', '**/*.mjs'],
    extends: [tseslint.configs.disableTypeChecked],
    languageOptions: { globals: globals.node },
  },
);
