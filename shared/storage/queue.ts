import type { QueueClient } from '@azure/storage-queue';

/**
 * Host queue triggers decode base64 by default (host.json messageEncoding), so producers encode.
 * A message made in the course of a traced invocation carries its W3C `traceparent` (given by the
 * producer: `traceparentOf(context)` or the audit context's), which the consumer continues
 * (shared/telemetry/functions.ts strips it before the handler sees the message).
 */
export function encodeQueueMessage(payload: unknown, traceparent?: string): string {
  const carried = traceparent && typeof payload === 'object' && payload !== null && !Array.isArray(payload) ? { ...payload, traceparent } : payload;
  return Buffer.from(JSON.stringify(carried), 'utf8').toString('base64');
}

export async function sendJson(queue: QueueClient, payload: unknown, traceparent?: string): Promise<void> {
  await queue.sendMessage(encodeQueueMessage(payload, traceparent));
}
