import { randomUUID } from 'node:crypto';
import type { BlobServiceClient } from '@azure/storage-blob';
import { restErrorStatus } from '../shared/http/errors.js';
import { errorMessage, type Logger } from '../shared/logging.js';

/** The longest delay `setTimeout` honours (2³¹−1 ms, about 24.8 days); a longer one fires at once. */
export const MAX_TIMEOUT_MS = 2 ** 31 - 1;

export interface TimerHandle {
  cancel(): void;
}

/**
 * `setTimeout` for any delay: a delay beyond 2³¹−1 ms is waited in steps, so a yearly schedule waits
 * for its day instead of firing in a tight loop. Unreferenced: a pending timer never keeps the process up.
 */
export function setLongTimeout(callback: () => void, delayMs: number): TimerHandle {
  let current: NodeJS.Timeout;
  const dueAt = Date.now() + Math.max(0, delayMs);
  const wait = () => {
    const remaining = dueAt - Date.now();
    current = setTimeout(remaining > MAX_TIMEOUT_MS ? wait : callback, Math.min(Math.max(0, remaining), MAX_TIMEOUT_MS));
    current.unref();
  };
  wait();
  return { cancel: () => clearTimeout(current) };
}

/**
 * The host's timer singleton: a timer runs on the one instance holding a blob lease on
 * `azure-webjobs-hosts/locks/<hostId>/<function>.Listener`. The holder renews the lease every
 * `periodSeconds / 3` while it runs and releases it when it stops; another instance takes over at its
 * next occurrence once the lease is free or has lapsed (an instance that died: after `periodSeconds`).
 * Cost: one lease renewal per timer function every `periodSeconds / 3` on the holding instance, one
 * failed acquire per occurrence on each other instance.
 */
export class TimerLeases {
  private readonly held = new Map<string, { leaseId: string; renewal: NodeJS.Timeout }>();
  private readonly leaseId = randomUUID();
  private stopped = false;

  constructor(
    private readonly blobs: BlobServiceClient,
    private readonly hostId: string,
    private readonly log: Logger,
    private readonly periodSeconds = 15,
  ) {}

  private blob(name: string) {
    return this.blobs.getContainerClient('azure-webjobs-hosts').getBlockBlobClient(`locks/${this.hostId}/${name}.Listener`);
  }

  /** Whether this instance holds (or has just acquired) the timer's lease. */
  async holds(name: string): Promise<boolean> {
    if (this.stopped) return false;
    if (this.held.has(name)) return true;
    const blob = this.blob(name);
    try {
      await this.blobs.getContainerClient('azure-webjobs-hosts').createIfNotExists();
      await blob.upload('', 0, { conditions: { ifNoneMatch: '*' } }).catch((error: unknown) => {
        const status = restErrorStatus(error);
        if (status !== 409 && status !== 412) throw error;
      });
      await blob.getBlobLeaseClient(this.leaseId).acquireLease(this.periodSeconds);
    } catch (error) {
      const status = restErrorStatus(error);
      if (status !== 409 && status !== 412) this.log.warn('timer lease not acquired', { function: name, error: errorMessage(error).slice(0, 200) });
      return false;
    }
    const renewal = setInterval(
      () => {
        blob
          .getBlobLeaseClient(this.leaseId)
          .renewLease()
          .catch(() => {
            // Lost (storage unreachable past the period, or taken over): the next occurrence asks again.
            clearInterval(renewal);
            this.held.delete(name);
          });
      },
      (this.periodSeconds * 1000) / 3,
    );
    renewal.unref();
    this.held.set(name, { leaseId: this.leaseId, renewal });
    return true;
  }

  /** Stops renewing and releases every lease, so another instance takes over at its next occurrence. */
  async releaseAll(): Promise<void> {
    this.stopped = true;
    const held = [...this.held.entries()];
    this.held.clear();
    await Promise.all(
      held.map(async ([name, { leaseId, renewal }]) => {
        clearInterval(renewal);
        await this.blob(name)
          .getBlobLeaseClient(leaseId)
          .releaseLease()
          .catch(() => undefined);
      }),
    );
  }
}
