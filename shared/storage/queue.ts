import type { QueueClient } from '@azure/storage-queue';
import { currentTraceparent } from '../telemetry/telemetry.js';

/**
 * Host queue triggers decode base64 by default (host.json messageEncoding), so producers encode.
 * A message made inside a traced span carries its W3C `traceparent`, which the consumer continues
 * (shared/telemetry/functions.ts strips it before the handler sees the message).
 */
export function encodeQueueMessage(payload: unknown): string {
  const traceparent = currentTraceparent();
  const carried = traceparent && typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? { ...payload, traceparent } : payload;
  return Buffer.from(JSON.stringify(carried), 'utf8').toString('base64');
}

export async function sendJson(queue: QueueClient, payload: unknown): Promise<void> {
  await queue.sendMessage(encodeQueueMessage(payload));
}
