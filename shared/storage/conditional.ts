import type { TableClient, TableEntity, TableEntityResult, TransactionAction } from '@azure/data-tables';
import { ConcurrentModificationError, restErrorStatus } from '../http/errors.js';
import { readEntity } from './entities.js';

/**
 * Optimistic concurrency for Table Storage: read with the ETag, decide, write only if nothing changed
 * meanwhile, and on a lost race (412 from an If-Match write, 409 from an insert someone else made
 * first) read again and decide again. Every read-modify-write of an entity goes through here, so all
 * of them get the same number of rounds, the same back-off and the same error once they give up.
 */

/** Rounds of a read-modify-write before a lost race is reported as a conflict. */
export const CONDITIONAL_WRITE_ATTEMPTS = 8;

/** Whether a storage error means that another writer got there first. */
export function isLostRace(error: unknown): boolean {
  const status = restErrorStatus(error);
  return status === 412 || status === 409;
}

/** Jittered exponential back-off after `attempt` lost races: 5 ms doubling, at most 200 ms, ±50 %. */
export function backOffAfter(attempt: number): Promise<void> {
  const ms = Math.min(200, 5 * 2 ** (attempt - 1)) * (0.5 + Math.random());
  return new Promise((resolve) => setTimeout(resolve, ms));
}

export interface RetryOptions {
  /** The message of the 409 concurrentModification once the rounds are used up. */
  readonly conflictMessage?: string;
}

/**
 * Runs `round` (one read, decision and conditional write; `attempt` counts from 1) again after each
 * lost race, with a back-off, up to CONDITIONAL_WRITE_ATTEMPTS times; then throws
 * ConcurrentModificationError. Anything else the round throws (a refusal it decided on) goes through
 * as it is. A round that writes audit events with `commitWithEvents` builds them afresh each time:
 * the events of a round whose transaction failed are dropped by the audit writer.
 */
export async function retryLostRaces<T>(round: (attempt: number) => Promise<T>, options: RetryOptions = {}): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await round(attempt);
    } catch (error) {
      if (!isLostRace(error)) throw error;
      if (attempt >= CONDITIONAL_WRITE_ATTEMPTS) throw new ConcurrentModificationError(options.conflictMessage);
      await backOffAfter(attempt);
    }
  }
}

/** The write that holds only if the entity is still as read: a replace at its ETag, or an insert where none was read. */
export function conditionalWrite(entity: TableEntity, etag: string | undefined): TransactionAction {
  return etag ? ['update', entity, 'Replace', { etag }] : ['create', entity];
}

/** What a change of one entity decided: nothing to write, or the entity to write in its place. */
export type EntityChange<R> =
  | { readonly result: R; readonly write?: undefined; readonly commit?: undefined }
  | {
      readonly result: R;
      readonly write: TableEntity;
      /**
       * Commits the conditional write, with whatever must hold atomically with it (such as
       * `(actions) => commitWithEvents(app, table, actions, events)`); by default it is written alone.
       */
      readonly commit?: (actions: TransactionAction[]) => Promise<unknown>;
    };

/**
 * Read-modify-write of one entity: reads it (undefined when absent), lets `change` decide, and writes
 * what it decided only if the entity is still as read; a lost race starts over with a fresh read.
 */
export async function changeEntity<T extends object, R>(
  table: TableClient,
  partitionKey: string,
  rowKey: string,
  change: (current: TableEntityResult<T> | undefined, attempt: number) => EntityChange<R> | Promise<EntityChange<R>>,
  options: RetryOptions = {},
): Promise<R> {
  return retryLostRaces(async (attempt) => {
    const current = await readEntity<T>(table, partitionKey, rowKey);
    const decided = await change(current, attempt);
    if (decided.commit) await decided.commit([conditionalWrite(decided.write, current?.etag)]);
    else if (decided.write && current) await table.updateEntity(decided.write, 'Replace', { etag: current.etag });
    else if (decided.write) await table.createEntity(decided.write);
    return decided.result;
  }, options);
}
