import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConcurrentModificationError, toAppError } from '../../shared/http/errors.js';
import { changeEntity, CONDITIONAL_WRITE_ATTEMPTS } from '../../shared/storage/conditional.js';
import { readEntity } from '../../shared/storage/entities.js';
import { TABLES } from '../../shared/storage/names.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';

let env: TestEnvironment;

beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.stop();
});

type Counter = { count: number };

describe('read-modify-write of one entity', () => {
  it('keeps every one of many concurrent changes (insert-if-absent, then If-Match)', async () => {
    const table = env.app.storage.table(TABLES.lifecycle);
    const partitionKey = `test-${randomUUID()}`;
    const increment = () =>
      changeEntity<Counter, number>(table, partitionKey, 'counter', (row) => {
        const count = (row?.count ?? 0) + 1;
        return { result: count, write: { partitionKey, rowKey: 'counter', count } };
      });
    const results = await Promise.all(Array.from({ length: 6 }, increment));
    expect([...results].sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6]);
    expect((await readEntity<Counter>(table, partitionKey, 'counter'))?.count).toBe(6);
  });

  it('writes nothing when the change decides so', async () => {
    const table = env.app.storage.table(TABLES.lifecycle);
    const partitionKey = `test-${randomUUID()}`;
    expect(await changeEntity(table, partitionKey, 'counter', () => ({ result: 'unchanged' }))).toBe('unchanged');
    expect(await readEntity(table, partitionKey, 'counter')).toBeUndefined();
  });

  it('gives up with 409 concurrentModification when every round loses its race, having written nothing of its own', async () => {
    const table = env.app.storage.table(TABLES.lifecycle);
    const partitionKey = `test-${randomUUID()}`;
    await table.createEntity({ partitionKey, rowKey: 'counter', count: 0 });
    let rounds = 0;
    const error = await changeEntity<Counter, void>(table, partitionKey, 'counter', async (row) => {
      rounds++;
      // Another writer gets in between every read and write.
      await table.updateEntity({ partitionKey, rowKey: 'counter', count: (row?.count ?? 0) + 1000 }, 'Replace');
      return { result: undefined, write: { partitionKey, rowKey: 'counter', count: -1 } };
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ConcurrentModificationError);
    expect(toAppError(error)).toMatchObject({ status: 409, code: 'concurrentModification' });
    expect(rounds).toBe(CONDITIONAL_WRITE_ATTEMPTS);
    expect((await readEntity<Counter>(table, partitionKey, 'counter'))?.count).toBe(1000 * CONDITIONAL_WRITE_ATTEMPTS);
  });

  it('passes a refusal of the change through at once', async () => {
    const table = env.app.storage.table(TABLES.lifecycle);
    let rounds = 0;
    const refusal = new Error('refused');
    await expect(
      changeEntity(table, `test-${randomUUID()}`, 'counter', () => {
        rounds++;
        throw refusal;
      }),
    ).rejects.toBe(refusal);
    expect(rounds).toBe(1);
  });
});
