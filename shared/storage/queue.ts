import type { QueueClient } from '@azure/storage-queue';

/** Host queue triggers decode base64 by default (host.json messageEncoding), so producers encode. */
export function encodeQueueMessage(payload: unknown): string {
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64');
}

export async function sendJson(queue: QueueClient, payload: unknown): Promise<void> {
  await queue.sendMessage(encodeQueueMessage(payload));
}
