import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELIVERY_ABANDON_AFTER_MS, listOutboxRows } from '../../shared/audit/outbox.js';
import { isAuditEventStored } from '../../shared/audit/writer.js';
import { auditEventSchema } from '../../shared/audit/events.js';
import { readEntity } from '../../shared/storage/entities.js';
import { QUEUES, TABLES, poisonQueueName } from '../../shared/storage/names.js';
import { encodeQueueMessage } from '../../shared/storage/queue.js';
import { expiryKeys, patPartitionOf } from '../../shared/tokens/repository.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { createPat } from '../helpers/http.js';
import { drainQueueTexts } from '../helpers/queues.js';

let env: TestEnvironment;
let bob: string;

beforeAll(async () => {
  env = await startTestEnvironment();
  bob = await env.userToken('bob@contoso.com');
});
afterAll(async () => {
  await env?.stop();
});

type Message = Record<string, unknown> & {
  id: string;
  delivery: {
    table: string;
    partitionKey: string;
    rowKey: string;
    sentAt: string;
    effects?: { op: string; table: string; partitionKey: string; rowKey: string }[];
  };
};

/** Creates a PAT and takes its audit message off the queue, undelivered. */
async function createdMessage(): Promise<{ message: Message; authorizationId: string; validTo: string }> {
  const pat = await createPat(env, { token: bob });
  const texts = await drainQueueTexts(env, QUEUES.audit);
  expect(texts).toHaveLength(1);
  return { message: JSON.parse(texts[0] as string) as Message, authorizationId: pat.authorizationId, validTo: pat.validTo };
}

const expiryRow = (validTo: string, id: string) => {
  const keys = expiryKeys(validTo, id);
  return readEntity(env.app.storage.table(TABLES.patExpiry), keys.partitionKey, keys.rowKey);
};

/** Messages that are visible on the audit queue now (deferred ones are not). */
async function visibleAuditMessages(): Promise<number> {
  const peeked = await env.app.storage.queue(QUEUES.audit).peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.length;
}

describe('outbox delivery', () => {
  it('sends the event with its outbox row and index effects, and stores it once the commit is proven', async () => {
    const { message, authorizationId, validTo } = await createdMessage();
    const partition = patPartitionOf(authorizationId);
    expect(message.delivery).toMatchObject({ table: TABLES.pats, partitionKey: partition, rowKey: `outbox_${message.id}` });
    expect(message.delivery.effects).toEqual([expect.objectContaining({ op: 'upsert', table: TABLES.patExpiry, ...expiryKeys(validTo, authorizationId) })]);
    expect((await listOutboxRows(env.app, TABLES.pats, partition)).map((row) => row.eventId)).toEqual([message.id]);
    expect(await expiryRow(validTo, authorizationId)).toBeUndefined();

    await env.runtime.invoke('audit-writer', message);
    const event = auditEventSchema.parse(message);
    expect(await isAuditEventStored(env.app, event)).toBe(true);
    expect(await expiryRow(validTo, authorizationId)).toMatchObject({ authorizationId });
    expect(await listOutboxRows(env.app, TABLES.pats, partition)).toHaveLength(0);

    // A redelivery changes nothing and is acknowledged.
    await env.runtime.invoke('audit-writer', message);
    expect(await visibleAuditMessages()).toBe(0);
    const rows: unknown[] = [];
    for await (const row of env.app.storage.table(TABLES.auditLog).listEntities({ queryOptions: { filter: `EventId eq '${event.id}'` } })) rows.push(row);
    expect(rows).toHaveLength(1);
  });

  it('defers a message whose commit has not landed yet and stores it once it has', async () => {
    const { message, authorizationId } = await createdMessage();
    const partition = patPartitionOf(authorizationId);
    const [outboxRow] = await listOutboxRows(env.app, TABLES.pats, partition);
    // The writer gets there first: the outbox row is not there yet.
    await env.app.storage.table(TABLES.pats).deleteEntity(partition, message.delivery.rowKey);
    await env.runtime.invoke('audit-writer', message);
    const event = auditEventSchema.parse(message);
    expect(await isAuditEventStored(env.app, event)).toBe(false);
    expect(await visibleAuditMessages()).toBe(0);

    // The commit lands; the deferred copy comes back after its back-off and is stored.
    await env.app.storage
      .table(TABLES.pats)
      .createEntity({ ...(outboxRow as { partitionKey: string; rowKey: string }), partitionKey: partition, rowKey: message.delivery.rowKey });
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    const again = await drainQueueTexts(env, QUEUES.audit);
    expect(again.map((text) => (JSON.parse(text) as Message).id)).toEqual([message.id]);
    await env.runtime.invoke('audit-writer', JSON.parse(again[0] as string));
    expect(await isAuditEventStored(env.app, event)).toBe(true);
    expect(await listOutboxRows(env.app, TABLES.pats, partition)).toHaveLength(0);
  });

  it('drops the event and its effects when the change never committed', async () => {
    const { message, authorizationId, validTo } = await createdMessage();
    const partition = patPartitionOf(authorizationId);
    await env.app.storage.table(TABLES.pats).deleteEntity(partition, message.delivery.rowKey);
    env.clock.advance(DELIVERY_ABANDON_AFTER_MS);
    await env.runtime.invoke('audit-writer', message);
    expect(await isAuditEventStored(env.app, auditEventSchema.parse(message))).toBe(false);
    expect(await expiryRow(validTo, authorizationId)).toBeUndefined();
    await new Promise((resolve) => setTimeout(resolve, 1_200));
    expect(await visibleAuditMessages()).toBe(0);
    expect(env.logs.some((line) => line.includes('its change never committed') && line.includes(message.id))).toBe(true);
  });

  it('poisons a message whose delivery names an unknown table or an unsafe key, applying nothing', async () => {
    const { message } = await createdMessage();
    for (const delivery of [
      { ...message.delivery, table: 'nosuchtable' },
      { ...message.delivery, effects: [{ op: 'upsert', table: TABLES.members, partitionKey: 'a/b', rowKey: 'c', columns: {} }] },
      { ...message.delivery, rowKey: 'pat_not-an-outbox-row' },
    ]) {
      const poisoned = { ...message, id: randomUUID(), delivery };
      await env.runtime.invoke('audit-writer', poisoned);
      const texts = await drainQueueTexts(env, poisonQueueName(QUEUES.audit));
      expect(texts.map((text) => (JSON.parse(text) as Message).id)).toEqual([poisoned.id]);
      expect(await isAuditEventStored(env.app, auditEventSchema.parse(poisoned))).toBe(false);
    }
    expect(env.logs.some((line) => line.includes('delivery: '))).toBe(true);
    // The well-formed original is still stored normally.
    await env.app.storage.queue(QUEUES.audit).sendMessage(encodeQueueMessage(message));
    await env.runtime.invoke('audit-writer', JSON.parse((await drainQueueTexts(env, QUEUES.audit))[0] as string));
    expect(await isAuditEventStored(env.app, auditEventSchema.parse(message))).toBe(true);
  });
});
