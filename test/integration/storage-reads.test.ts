import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { TableClient } from '@azure/data-tables';
import { startAzurite, type AzuriteInstance } from '../../local/azurite.js';
import { readEntity } from '../../shared/storage/entities.js';
import { isStorageUnavailable, restErrorStatus } from '../../shared/http/errors.js';
import { azuriteConnectionString } from '../../shared/storage/clients.js';

/**
 * Point reads skip the SDK's generated client (shared/storage/entities.ts): what they answer must be
 * what `getEntity` answers, for every property type and for keys that need escaping, and failures
 * must keep the shape the error mapping relies on (404 → undefined, others → RestError with status).
 */
let azurite: AzuriteInstance;
let table: TableClient;
const client = (connectionString: string, name: string) => TableClient.fromConnectionString(connectionString, name, { allowInsecureConnection: true });

beforeAll(async () => {
  azurite = await startAzurite({});
  table = client(azurite.connectionString, 'pointreads');
  await table.createTable();
}, 60_000);
afterAll(async () => {
  await azurite?.stop();
});

describe('point reads', () => {
  it('answer what getEntity answers, for every property type and escaped keys', async () => {
    const keys = [
      ['plain', 'row'],
      ["o'brien", "it's"],
      ['with space', 'percent%25 and | pipe'],
      ['ünïcødé', 'emoji 🎉'],
    ] as const;
    for (const [partitionKey, rowKey] of keys) {
      await table.createEntity({
        partitionKey,
        rowKey,
        text: 'hello',
        empty: '',
        flag: true,
        count: 42,
        ratio: 1.5,
        big: { value: '9007199254740993', type: 'Int64' },
        when: new Date('2026-01-02T03:04:05.678Z'),
        id: { value: '6f1e5b1c-3a3e-4a8e-9d2b-1f0c2d3e4f50', type: 'Guid' },
        bytes: new Uint8Array([0, 1, 2, 254, 255]),
        json: JSON.stringify({ a: [1, 2] }),
      });
      const expected: Record<string, unknown> = { ...(await table.getEntity(partitionKey, rowKey)) };
      delete expected['odata.metadata'];
      const actual = await readEntity(table, partitionKey, rowKey);
      expect(actual).toEqual(expected);
      expect(actual?.etag).toMatch(/^W\/"datetime'/);
      expect(typeof (actual as Record<string, unknown>).big).toBe('bigint');
      expect((actual as Record<string, unknown>).when).toBeInstanceOf(Date);
    }
  });

  it('answer undefined for a missing entity or table', async () => {
    expect(await readEntity(table, 'plain', 'nothing here')).toBeUndefined();
    expect(await readEntity(client(azurite.connectionString, 'nosuchtable'), 'p', 'r')).toBeUndefined();
  });

  it('throw a RestError with the status for other answers', async () => {
    const wrongKey = azuriteConnectionString(azurite.host, azurite.ports).replace(
      /AccountKey=[^;]+/,
      `AccountKey=${Buffer.from('not the key').toString('base64')}`,
    );
    const error = await readEntity(client(wrongKey, 'pointreads'), 'plain', 'row').catch((caught: unknown) => caught);
    expect(error).toMatchObject({ name: 'RestError' });
    expect(restErrorStatus(error)).toBe(403);
    expect(isStorageUnavailable(error)).toBe(false);
  });

  it('fail as storage unavailable when storage cannot be reached', async () => {
    const gone = azuriteConnectionString('127.0.0.1', { blob: 1, queue: 1, table: 1 });
    const error = await readEntity(client(gone, 'pointreads'), 'plain', 'row').catch((caught: unknown) => caught);
    expect(isStorageUnavailable(error)).toBe(true);
  }, 30_000);
});
