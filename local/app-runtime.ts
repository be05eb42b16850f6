import type { AppContext } from '../shared/app-context.js';
import { STORAGE_CONNECTION } from '../shared/config.js';
import type { StorageClients } from '../shared/storage/clients.js';
import { declarations } from '../functions/declarations.js';
import { startLocalRuntime, type LocalRuntime, type LocalRuntimeOptions } from './runner.js';

/** The local runtime serving every function of the app, with its settings from the environment. */
export async function startAppRuntime(app: AppContext, extra: Partial<LocalRuntimeOptions> = {}): Promise<LocalRuntime> {
  const clientsByConnection = new Map<string, StorageClients>([[STORAGE_CONNECTION, app.storage]]);
  return startLocalRuntime({
    declarations,
    settings: process.env,
    queueClient: (connection, queue) => (clientsByConnection.get(connection) ?? app.storage).queue(queue),
    blobService: await app.storage.blobs(),
    log: app.log,
    port: app.config.port,
    maxRequestBodyBytes: app.config.maxRequestBodyBytes,
    ...extra,
  });
}
