import type { TestEnvironment } from './environment.js';

/** Receives and deletes every message waiting on a queue; answers their decoded texts, oldest first. */
export async function drainQueueTexts(env: TestEnvironment, queueName: string): Promise<string[]> {
  const queue = env.app.storage.queue(queueName);
  const texts: string[] = [];
  for (;;) {
    const { receivedMessageItems: items } = await queue.receiveMessages({ numberOfMessages: 32 });
    if (items.length === 0) return texts;
    for (const item of items) {
      texts.push(Buffer.from(item.messageText, 'base64').toString('utf8'));
      await queue.deleteMessage(item.messageId, item.popReceipt);
    }
  }
}
