import { createAppContext, useAppContext } from '../shared/app-context.js';
import { getConfig, STORAGE_CONNECTION } from '../shared/config.js';
import { createStorageClients } from '../shared/storage/clients.js';
import { declarations } from '../functions/declarations.js';
import { startLocalRuntime } from './runner.js';
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
  const clientsByConnection = new Map<string, ReturnType<typeof createStorageClients>>([[STORAGE_CONNECTION, app.storage]]);
  const runtime = await startLocalRuntime({
    declarations,
    settings: process.env,
    queueClient: (connection, queue) => (clientsByConnection.get(connection) ?? app.storage).queue(queue),
    blobService: await app.storage.blobs(),
    log: app.log,
    port: config.port,
    maxRequestBodyBytes: config.maxRequestBodyBytes,
    ...(process.env.GATEHOUSE_MESSAGE_LEASE_SECONDS ? { messageLeaseSeconds: Number(process.env.GATEHOUSE_MESSAGE_LEASE_SECONDS) } : {}),
  });
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
