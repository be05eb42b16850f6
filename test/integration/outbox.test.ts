import { randomUUID } from 'node:crypto';
import { odata } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DELIVERY_ABANDON_AFTER_MS, SHARED_ROW_LIFETIME_MS, commitWithEvents, listOutboxRows } from '../../shared/audit/outbox.js';
import { isAuditEventStored } from '../../shared/audit/writer.js';
import { auditEventSchema } from '../../shared/audit/events.js';
import { TENANT_ADMINISTRATOR_ROLE } from '../../shared/auth/roles.js';
import { runLifecycle } from '../../shared/lifecycle/run.js';
import { readAll, readEntity } from '../../shared/storage/entities.js';
import { QUEUES, TABLES, poisonQueueName } from '../../shared/storage/names.js';
import { encodeQueueMessage } from '../../shared/storage/queue.js';
import { patPartitionOf } from '../../shared/tokens/repository.js';
import { expiryKeys } from '../../shared/storage/expiry-keys.js';
import { sampleAuditEvent } from '../helpers/audit.js';
import { client } from '../helpers/client.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { createPat } from '../helpers/http.js';
import { deliverAuditQueue, drainQueueTexts } from '../helpers/queues.js';

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
    effects?: { op: string; table: string; partitionKey: string; rowKey: string; columns?: Record<string, unknown> }[];
    shared?: true;
    signature?: { keyVersion: string; signature: string };
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

/** Takes every message off the audit queue, undelivered. */
async function queuedMessages(): Promise<Message[]> {
  return (await drainQueueTexts(env, QUEUES.audit)).map((text) => JSON.parse(text) as Message);
}

/** Messages moved to the audit poison queue since the last call. */
async function poisonedIds(): Promise<string[]> {
  return (await drainQueueTexts(env, poisonQueueName(QUEUES.audit))).map((text) => (JSON.parse(text) as Message).id);
}

/** A change of one row in a partition of its own, with `count` events (and one index effect). */
async function commitChange(count: number): Promise<{ partitionKey: string; effectRow: { partitionKey: string; rowKey: string } }> {
  const partitionKey = `outbox-test-${randomUUID()}`;
  const effectRow = { partitionKey: `effect-${randomUUID()}`, rowKey: 'indexed' };
  const events = Array.from({ length: count }, () => sampleAuditEvent(env.clock.now()));
  await commitWithEvents(env.app, TABLES.tokenPolicies, [['create', { partitionKey, rowKey: 'policy', document: '{}' }]], events, [
    { op: 'upsert', table: TABLES.tokenPolicies, ...effectRow, columns: { change: partitionKey } },
  ]);
  return { partitionKey, effectRow };
}

describe("deliveries are Gatehouse's own", () => {
  it('poisons a copy of a live delivery with effects of its own, before the genuine one arrives', async () => {
    // Someone who can peek at and add to the audit queue copies a PAT create's message and swaps its
    // index effect for a write of their choosing into the PAT table, racing the genuine message.
    const { message, validTo, authorizationId } = await createdMessage();
    const planted = { partitionKey: patPartitionOf(authorizationId), rowKey: `pat_planted-${randomUUID()}` };
    const forged: Message = {
      ...message,
      delivery: { ...message.delivery, effects: [{ op: 'upsert', table: TABLES.pats, ...planted, columns: { hash: 'chosen' } }] },
    };
    const unsigned: Message = { ...forged, delivery: { ...forged.delivery, signature: undefined } };
    for (const copy of [forged, unsigned]) await env.runtime.invoke('audit-writer', copy);
    expect(await poisonedIds()).toEqual([message.id, message.id]);
    expect(await readEntity(env.app.storage.table(TABLES.pats), planted.partitionKey, planted.rowKey)).toBeUndefined();

    // The genuine message is stored as usual, with its own effect.
    await env.runtime.invoke('audit-writer', message);
    expect(await isAuditEventStored(env.app, auditEventSchema.parse(message))).toBe(true);
    expect(await expiryRow(validTo, authorizationId)).toBeDefined();
  });

  it('still stores an unsigned delivery whose outbox row was written before deliveries were signed', async () => {
    const { message, validTo, authorizationId } = await createdMessage();
    const { signature: _signature, ...unsignedDelivery } = message.delivery;
    const row = await readEntity<Record<string, unknown>>(
      env.app.storage.table(message.delivery.table),
      message.delivery.partitionKey,
      message.delivery.rowKey,
    );
    if (!row) throw new Error('no outbox row');
    const { signed: _signed, etag: _etag, timestamp: _timestamp, ...earlierRow } = row;
    await env.app.storage.table(message.delivery.table).upsertEntity(earlierRow as { partitionKey: string; rowKey: string }, 'Replace');
    await env.runtime.invoke('audit-writer', { ...message, delivery: unsignedDelivery });
    expect(await isAuditEventStored(env.app, auditEventSchema.parse(message))).toBe(true);
    expect(await expiryRow(validTo, authorizationId)).toBeDefined();
  });
});

describe('changes with more events than one transaction holds', () => {
  it('keeps one outbox row per event while they fit beside the change, and the writer deletes each', async () => {
    const { partitionKey } = await commitChange(99);
    const rows = await listOutboxRows(env.app, TABLES.tokenPolicies, partitionKey);
    expect(rows).toHaveLength(99);
    expect(rows.every((row) => row.shared === undefined && row.rowKey === `outbox_${String(row.eventId)}`)).toBe(true);
    const messages = await queuedMessages();
    expect(messages.every((message) => message.delivery.shared === undefined && message.delivery.signature !== undefined)).toBe(true);
    for (const message of messages) await env.runtime.invoke('audit-writer', message);
    expect(await listOutboxRows(env.app, TABLES.tokenPolicies, partitionKey)).toHaveLength(0);
  });

  it('commits a change with 100 events and one row they share, which deliveries neither delete nor reapply', async () => {
    const { partitionKey, effectRow } = await commitChange(100);
    const [row, ...others] = await listOutboxRows(env.app, TABLES.tokenPolicies, partitionKey);
    expect(others).toHaveLength(0);
    expect(row).toMatchObject({ shared: true, eventCount: 100 });
    const messages = await queuedMessages();
    expect(messages).toHaveLength(100);
    expect(messages.every((message) => message.delivery.rowKey === row?.rowKey && message.delivery.shared === true)).toBe(true);
    for (const message of messages) await env.runtime.invoke('audit-writer', message);
    for (const message of messages) expect(await isAuditEventStored(env.app, auditEventSchema.parse(message))).toBe(true);
    expect(await readEntity(env.app.storage.table(TABLES.tokenPolicies), effectRow.partitionKey, effectRow.rowKey)).toMatchObject({ change: partitionKey });
    expect(await listOutboxRows(env.app, TABLES.tokenPolicies, partitionKey)).toHaveLength(1);
    expect(await poisonedIds()).toEqual([]);

    // A message delivered again (or replayed from the queue) is a duplicate: its effects are not applied twice.
    await env.app.storage.table(TABLES.tokenPolicies).deleteEntity(effectRow.partitionKey, effectRow.rowKey);
    const first = messages.find((message) => message.delivery.effects);
    expect(first).toBeDefined();
    await env.runtime.invoke('audit-writer', first);
    expect(await readEntity(env.app.storage.table(TABLES.tokenPolicies), effectRow.partitionKey, effectRow.rowKey)).toBeUndefined();
  });

  it('poisons forged deliveries: an unsigned or altered shared one, a shared claim on a row of its own, a row of another event', async () => {
    const { partitionKey } = await commitChange(100);
    const [sharedRow] = await listOutboxRows(env.app, TABLES.tokenPolicies, partitionKey);
    const [genuine] = await queuedMessages();
    if (!genuine) throw new Error('no message');
    const { message: own } = await createdMessage();
    const forgeries: Message[] = [
      // Someone with queue access names the long-lived shared row for an event of their own.
      { ...genuine, id: randomUUID(), data: { DisplayName: 'forged' } },
      { ...genuine, data: { DisplayName: 'altered' } },
      { ...genuine, delivery: { ...genuine.delivery, effects: [{ op: 'delete', table: TABLES.pats, partitionKey: 'x', rowKey: 'y' }] } },
      // Without its shared flag and signature, the delivery would have the writer delete the shared row.
      {
        ...genuine,
        id: randomUUID(),
        delivery: { table: genuine.delivery.table, partitionKey, rowKey: genuine.delivery.rowKey, sentAt: genuine.delivery.sentAt },
      },
      // With a shared flag, a row of its own would be kept as a proof for good.
      { ...own, delivery: { ...own.delivery, shared: true, signature: genuine.delivery.signature } },
      { ...own, id: randomUUID(), delivery: { ...own.delivery, signature: undefined } },
    ];
    for (const forged of forgeries) await env.runtime.invoke('audit-writer', forged);
    expect(await poisonedIds()).toEqual(forgeries.map((forged) => forged.id));
    for (const forged of forgeries.filter((f) => f.id !== genuine.id && f.id !== own.id)) {
      expect(await isAuditEventStored(env.app, auditEventSchema.parse(forged))).toBe(false);
    }
    expect(env.logs.some((line) => line.includes('delivery: signature: the signature does not match'))).toBe(true);
    expect(env.logs.some((line) => line.includes('the outbox row is shared, and the delivery is not'))).toBe(true);
    expect(env.logs.some((line) => line.includes('the outbox row belongs to another event'))).toBe(true);

    // Both rows are where they were, and the genuine messages are stored as usual.
    expect((await listOutboxRows(env.app, TABLES.tokenPolicies, partitionKey)).map((row) => row.rowKey)).toEqual([sharedRow?.rowKey]);
    expect(await listOutboxRows(env.app, own.delivery.table, own.delivery.partitionKey)).toHaveLength(1);
    for (const message of [genuine, own]) {
      await env.runtime.invoke('audit-writer', message);
      expect(await isAuditEventStored(env.app, auditEventSchema.parse(message))).toBe(true);
    }
    expect(await listOutboxRows(env.app, own.delivery.table, own.delivery.partitionKey)).toHaveLength(0);
    expect(await listOutboxRows(env.app, TABLES.tokenPolicies, partitionKey)).toHaveLength(1);
  });

  it('audits a tenant policy change in each of 150 organizations and purges the shared row a month later', async () => {
    const tenantId = randomUUID();
    const suffix = randomUUID().slice(0, 8);
    const organizations = Array.from({ length: 150 }, (_, i) => ({
      id: randomUUID(),
      name: `nw${suffix}-${String(i)}`,
      description: '',
      createdAt: env.clock.now().toISOString(),
      projectScopedVisibility: false,
      tenantId,
      allowExternalGuests: false,
    }));
    for (let i = 0; i < organizations.length; i += 25) {
      await Promise.all(organizations.slice(i, i + 25).map((organization) => env.app.directory.createOrganization(organization)));
    }
    const administrator = await env.userToken('tara@northwind.test', { userId: randomUUID(), tenantId, roles: [TENANT_ADMINISTRATOR_ROLE] });

    const updated = await client(env)
      .as(administrator)
      .put('/_apis/tenant/policies?api-version=7.1', { restrictGlobalPats: { enabled: true } });
    expect(updated.status, updated.text).toBe(200);
    const revision = (updated.body as { revision: number }).revision;

    const partitionKey = `tenant_${tenantId}`;
    const [sharedRow, ...others] = await listOutboxRows(env.app, TABLES.tokenPolicies, partitionKey);
    expect(others).toHaveLength(0);
    expect(sharedRow).toMatchObject({ shared: true, eventCount: 150 });

    await deliverAuditQueue(env);
    expect(await poisonedIds()).toEqual([]);
    const stored = await readAll<{ OrganizationId: string; Data: string }>(
      env.app.storage.table(TABLES.auditLog),
      odata`ActionId eq ${'Token.TenantPolicyUpdateEvent'}`,
    );
    const perOrganization = new Map<string, number>();
    for (const row of stored) {
      const data = JSON.parse(row.Data) as { TenantId: string; Revision: number };
      if (data.TenantId === tenantId && data.Revision === revision) perOrganization.set(row.OrganizationId, (perOrganization.get(row.OrganizationId) ?? 0) + 1);
    }
    expect(perOrganization.size).toBe(150);
    for (const organization of organizations) expect(perOrganization.get(organization.id), organization.name).toBe(1);

    // The writer leaves the shared row; the lifecycle sweep removes it once its month is over.
    expect(await listOutboxRows(env.app, TABLES.tokenPolicies, partitionKey)).toHaveLength(1);
    await runLifecycle(env.app, { reminders: false });
    expect(await listOutboxRows(env.app, TABLES.tokenPolicies, partitionKey)).toHaveLength(1);
    env.clock.advance(SHARED_ROW_LIFETIME_MS + 60_000);
    await runLifecycle(env.app, { reminders: false });
    expect(await listOutboxRows(env.app, TABLES.tokenPolicies, partitionKey)).toHaveLength(0);
    // The policy itself is untouched.
    const read = await client(env)
      .as(await env.userToken('tara@northwind.test', { userId: randomUUID(), tenantId, roles: [TENANT_ADMINISTRATOR_ROLE] }))
      .get('/_apis/tenant/policies?api-version=7.1');
    expect(read.body).toMatchObject({ restrictGlobalPats: { enabled: true }, revision });
  });
});
