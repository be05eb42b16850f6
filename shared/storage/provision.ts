import type { StorageClients } from './clients.js';
import { CONTAINERS, QUEUES, TABLES, poisonQueueName } from './names.js';

/** Creates every table, queue (with its poison queue) and container the app uses; safe to repeat. */
export async function provisionStorage(storage: StorageClients): Promise<void> {
  const blobs = await storage.blobs();
  await Promise.all([
    ...Object.values(TABLES).map((name) => storage.tableService.createTable(name)),
    ...Object.values(QUEUES).flatMap((name) => [storage.queue(name).createIfNotExists(), storage.queue(poisonQueueName(name)).createIfNotExists()]),
    ...Object.values(CONTAINERS).map((name) => blobs?.getContainerClient(name).createIfNotExists()),
  ]);
}
