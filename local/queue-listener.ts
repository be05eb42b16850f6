import type { QueueClient } from '@azure/storage-queue';
import { restErrorStatus } from '../shared/http/errors.js';
import { errorMessage, type Logger } from '../shared/logging.js';
import type { QueueDeclaration } from '../shared/runtime/declarations.js';
import { resolveSettingReference } from '../shared/runtime/ncrontab.js';
import { poisonQueueName } from '../shared/storage/names.js';
import type { HostSettings } from './host-settings.js';
import type { Invocations } from './invocations.js';

/** One run of a queue function, logged as an invocation; a failure is logged and rethrown. */
export async function runQueueFunction(
  invocations: Invocations,
  declaration: QueueDeclaration,
  payload: unknown,
  metadata: Record<string, unknown>,
): Promise<void> {
  const context = invocations.contextFor(declaration.name, metadata);
  const started = Date.now();
  try {
    await declaration.handler(payload, context);
    invocations.logInvocation(declaration.name, context.invocationId, started, 'succeeded');
  } catch (error) {
    invocations.logInvocation(declaration.name, context.invocationId, started, 'failed', { error: errorMessage(error).slice(0, 500) });
    throw error;
  }
}

export interface QueueListenersOptions {
  readonly declarations: readonly QueueDeclaration[];
  readonly settings: Record<string, string | undefined>;
  readonly queueClient: (connection: string, queueName: string) => QueueClient;
  readonly host: HostSettings;
  readonly log: Logger;
  readonly invocations: Invocations;
  /** False once the runtime stops: each listener then finishes the messages in flight and ends. */
  readonly isRunning: () => boolean;
  readonly messageLeaseSeconds: number;
}

export interface QueueListeners {
  /** Waits until every listener has polled an empty queue once after this call. */
  drain(timeoutMs: number): Promise<void>;
  /** Wakes the listeners (once isRunning is false) and waits until each has settled its messages in flight. */
  stop(): Promise<void>;
}

/** One listener per queue function, polling its queue with the host's queue semantics (host.json `extensions.queues`, poison queues). */
export function startQueueListeners(options: QueueListenersOptions): QueueListeners {
  const listeners = options.declarations.map((declaration) => {
    const queueName = resolveSettingReference(declaration.options.queueName, options.settings);
    const listener = new QueueListener(
      declaration,
      options.queueClient(declaration.options.connection, queueName),
      options.queueClient(declaration.options.connection, poisonQueueName(queueName)),
      options.host,
      options.log,
      (payload, metadata) => runQueueFunction(options.invocations, declaration, payload, metadata),
      options.isRunning,
      options.messageLeaseSeconds,
    );
    listener.start();
    return listener;
  });
  return {
    drain: async (timeoutMs) => {
      // Twice: a function of one queue may put messages on another (notices → webhook deliveries).
      for (let round = 0; round < 2; round += 1) await Promise.all(listeners.map((listener) => listener.waitUntilIdle(timeoutMs)));
    },
    stop: async () => {
      listeners.forEach((listener) => listener.wake());
      await Promise.all(listeners.map((listener) => listener.stopped));
    },
  };
}

class QueueListener {
  private wakeUp: (() => void) | undefined;
  private idleWaiters: { registeredAt: number; resolve: () => void }[] = [];
  private pollsStarted = 0;
  readonly stopped: Promise<void>;
  private resolveStopped!: () => void;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly declaration: QueueDeclaration,
    private readonly queue: QueueClient,
    private readonly poison: QueueClient,
    private readonly host: HostSettings,
    private readonly log: Logger,
    private readonly run: (payload: unknown, metadata: Record<string, unknown>) => Promise<void>,
    private readonly isRunning: () => boolean,
    private readonly leaseSeconds: number,
  ) {
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  start(): void {
    void this.loop().finally(() => this.resolveStopped());
  }

  wake(): void {
    this.wakeUp?.();
  }

  waitUntilIdle(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`queue ${this.queue.name} did not drain in ${timeoutMs} ms`)), timeoutMs);
      // Only a poll that starts after this call proves the queue was empty after it.
      this.idleWaiters.push({
        registeredAt: this.pollsStarted,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      this.wake();
    });
  }

  private async loop(): Promise<void> {
    const { queues } = this.host;
    let delay = 100;
    while (this.isRunning()) {
      let found = 0;
      const pollIndex = ++this.pollsStarted;
      try {
        // As the host does: a new batch is fetched once the messages in flight drop to newBatchThreshold.
        const room = queues.batchSize + queues.newBatchThreshold - this.inFlight.size;
        const response = await this.queue.receiveMessages({ numberOfMessages: Math.min(queues.batchSize, room), visibilityTimeout: this.leaseSeconds });
        found = response.receivedMessageItems.length;
        for (const message of response.receivedMessageItems) {
          // A message that cannot be settled (storage down) becomes visible again when its lease ends, as on the host.
          const running: Promise<void> = this.process(message)
            .catch((error: unknown) => {
              this.log.warn('a queue message could not be settled', { function: this.declaration.name, error: errorMessage(error).slice(0, 200) });
            })
            .finally(() => this.inFlight.delete(running));
          this.inFlight.add(running);
        }
        while (this.inFlight.size > queues.newBatchThreshold) await Promise.race(this.inFlight);
      } catch (error) {
        if (restErrorStatus(error) === 404) await this.queue.createIfNotExists().catch(() => undefined);
        else this.log.warn('queue poll failed', { queue: this.queue.name, error: errorMessage(error).slice(0, 300) });
      }
      if (found > 0) {
        delay = 100;
        continue;
      }
      // Idle only when nothing is in flight either; otherwise keep polling at the usual back-off.
      if (this.inFlight.size === 0) {
        const satisfied = this.idleWaiters.filter((waiter) => waiter.registeredAt < pollIndex);
        this.idleWaiters = this.idleWaiters.filter((waiter) => waiter.registeredAt >= pollIndex);
        satisfied.forEach((waiter) => waiter.resolve());
        if (this.idleWaiters.length > 0) continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay * (0.8 + Math.random() * 0.4));
        timer.unref();
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      delay = Math.min(delay * 2, queues.maxPollingIntervalMs);
    }
    await Promise.all(this.inFlight);
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((waiter) => waiter.resolve());
  }

  private async process(message: {
    messageId: string;
    popReceipt: string;
    messageText: string;
    dequeueCount: number;
    insertedOn: Date;
    expiresOn: Date;
    nextVisibleOn: Date;
  }): Promise<void> {
    const { queues } = this.host;
    if (message.dequeueCount > queues.maxDequeueCount) return this.moveToPoison(message, 'dequeue count exceeded before invocation');
    let outcome: 'ok' | 'failed' = 'ok';
    let reason = '';
    let text: string;
    try {
      text = decodeMessage(message.messageText, queues.messageEncoding);
    } catch (error) {
      // As the host's queue extension (5.x) does: a message it cannot decode goes to poison at once,
      // since retrying cannot help (Azure/azure-sdk-for-net#18326).
      return this.moveToPoison(message, `message decoding failed: ${errorMessage(error).slice(0, 200)}`);
    }
    // Keep the message invisible while the function runs, as the host renews its lease at half-time.
    let popReceipt = message.popReceipt;
    const renewal = setInterval(
      () => {
        this.queue
          .updateMessage(message.messageId, popReceipt, undefined, this.leaseSeconds)
          .then((renewed) => {
            if (renewed.popReceipt) popReceipt = renewed.popReceipt;
          })
          .catch(() => undefined);
      },
      (this.leaseSeconds * 1000) / 2,
    );
    try {
      await this.run(parsePayload(text), {
        id: message.messageId,
        popReceipt: message.popReceipt,
        dequeueCount: message.dequeueCount,
        insertionTime: message.insertedOn.toISOString(),
        expirationTime: message.expiresOn.toISOString(),
        nextVisibleTime: message.nextVisibleOn.toISOString(),
        queueTrigger: text,
      });
    } catch (error) {
      outcome = 'failed';
      reason = errorMessage(error).slice(0, 300);
    } finally {
      clearInterval(renewal);
    }
    const settled = { ...message, popReceipt };
    if (outcome === 'ok') {
      await this.queue.deleteMessage(settled.messageId, settled.popReceipt).catch(ignoreGone);
      return;
    }
    if (message.dequeueCount >= queues.maxDequeueCount) return this.moveToPoison(settled, reason);
    await this.queue.updateMessage(settled.messageId, settled.popReceipt, undefined, queues.visibilityTimeoutSeconds).catch(ignoreGone);
  }

  private async moveToPoison(message: { messageId: string; popReceipt: string; messageText: string }, reason: string): Promise<void> {
    await this.poison.createIfNotExists();
    await this.poison.sendMessage(message.messageText);
    await this.queue.deleteMessage(message.messageId, message.popReceipt).catch(ignoreGone);
    this.log.warn('message moved to poison queue', {
      function: this.declaration.name,
      queue: this.queue.name,
      messageId: message.messageId,
      reason,
    });
  }
}

function ignoreGone(error: unknown): void {
  const status = restErrorStatus(error);
  if (status === 404 || status === 400) return;
  throw error;
}

export function decodeMessage(text: string, encoding: 'base64' | 'none'): string {
  if (encoding === 'none') return text;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new Error('the message is not valid base64 (host.json messageEncoding is base64)');
  }
  return Buffer.from(text, 'base64').toString('utf8');
}

/** As the Node worker does: JSON when it parses, the string otherwise. */
function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}
