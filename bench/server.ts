import { createAppContext, useAppContext } from '../shared/app-context.js';
import { generateMasterKey } from '../local/dev-secrets.js';
import { loadConfig, STORAGE_CONNECTION } from '../shared/config.js';
import { provisionStorage } from '../shared/storage/provision.js';
import { declarations } from '../functions/declarations.js';
import { seedDemoData } from '../local/demo-data.js';
import { startLocalRuntime } from '../local/runner.js';
import { exitWithParent } from './lib.js';

/**
 * Gatehouse for the benchmarks, as `npm start` assembles it (config → app context → storage →
 * runtime) but compiled, with the log level from the environment (warn: no per-invocation logs),
 * the storage account given in STORAGE, and no timers unless asked:
 * - BENCH_TRIGGERS=1 starts queue listeners (and timers) of the functions served;
 * - BENCH_FUNCTIONS=a,b serves only those functions (by name);
 * - BENCH_SEED=0 skips the demo organizations and users.
 * Prints `BENCH_READY {"url", "triggersAt"}` once it listens.
 */
async function main(): Promise<void> {
  const config = loadConfig(process.env);
  const app = createAppContext(config);
  useAppContext(app);
  await provisionStorage(app.storage);
  if (process.env.BENCH_SEED !== '0') await seedDemoData(app);

  const only = process.env.BENCH_FUNCTIONS?.split(',')
    .map((name) => name.trim())
    .filter(Boolean);
  const served = only ? declarations.filter((declaration) => only.includes(declaration.name)) : declarations;
  if (only && served.length !== only.length) throw new Error(`unknown function in BENCH_FUNCTIONS: ${only.join(', ')}`);

  const triggersAt = Date.now();
  const runtime = await startLocalRuntime({
    declarations: served,
    settings: process.env,
    queueClient: (connection, queue) => {
      if (connection !== STORAGE_CONNECTION && connection !== 'AzureWebJobsStorage') throw new Error(`unknown connection ${connection}`);
      return app.storage.queue(queue);
    },
    blobService: await app.storage.blobs(),
    log: app.log,
    port: config.port,
    maxRequestBodyBytes: config.maxRequestBodyBytes,
    masterKey: generateMasterKey(),
    triggers: process.env.BENCH_TRIGGERS === '1',
  });
  exitWithParent(() => runtime.stop());
  process.stdout.write(`BENCH_READY ${JSON.stringify({ url: runtime.url, triggersAt })}\n`);
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? (error.stack ?? error.message) : error);
  process.exit(1);
});
