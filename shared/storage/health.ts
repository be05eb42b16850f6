import type { StorageClients } from './clients.js';
import { TABLES } from './names.js';
import { readEntity } from './entities.js';

/** One cheap point read against the table service, bounded in time. */
export async function checkStorage(storage: StorageClients, timeoutMs = 2000): Promise<boolean> {
  const probe = readEntity(storage.table(TABLES.organizations), 'health', 'probe').then(
    () => true,
    () => false,
  );
  const timeout = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), timeoutMs).unref());
  return Promise.race([probe, timeout]);
}
