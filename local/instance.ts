import { createAppContext, useAppContext } from '../shared/app-context.js';
import { getConfig } from '../shared/config.js';
import { startAppRuntime } from './app-runtime.js';
import { loadLocalSettings } from './settings.js';

/**
 * One runtime instance of `npm start -- --instances N`: its own process with its own caches, on the
 * shared storage, as the Functions host runs one worker per instance. The launcher
 * (local/instances.ts) gives it a port and stops it with SIGTERM.
 */
async function main(): Promise<void> {
  loadLocalSettings();
  const config = getConfig();
  const app = createAppContext(config);
  useAppContext(app);
  const runtime = await startAppRuntime(app);
  process.send?.({ ready: runtime.url });

  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await runtime.stop();
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
  process.on('disconnect', () => void stop());
}

main().catch((error: unknown) => {
  console.error(error instanceof Error ? error.message : error);
  process.exit(1);
});
