import { randomUUID } from 'node:crypto';
import { odata } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { DEMO_ORGANIZATIONS, DEMO_USERS } from '../../local/demo-data.js';
import type { AuditEvent } from '../../shared/audit/events.js';
import { writeAuditEvent } from '../../shared/audit/writer.js';
import { signAuditMessage } from '../../shared/audit/ingestion.js';
import { QUEUES, TABLES, poisonQueueName } from '../../shared/storage/names.js';

const V = 'api-version=7.1-preview.1';
const [contoso, fabrikam] = DEMO_ORGANIZATIONS;
const alice = DEMO_USERS[0]!;
const DAY = 86_400_000;
const T0 = Date.parse('2026-01-01T12:00:00Z');

let env: TestEnvironment;
const api = client(() => env);
beforeAll(async () => {
  env = await startTestEnvironment({ now: new Date(T0).toISOString(), settings: { AUDIT_RETENTION_MAX_PAGES: '3' } });
});
afterAll(async () => {
  await env?.stop();
});

function event(organization: (typeof DEMO_ORGANIZATIONS)[number], data: Record<string, unknown> = {}): AuditEvent {
  return {
    id: randomUUID(),
    schemaVersion: 1,
    timestamp: env.clock.now().toISOString(),
    organizationId: organization.id,
    organizationName: organization.name,
    actionId: 'Token.PatExpiredEvent',
    area: 'Token',
    category: 'modify',
    actor: { kind: 'system', id: '00000000-0000-0000-0000-000000000000', displayName: 'Gatehouse', authenticationMechanism: 'System' },
    correlationId: randomUUID(),
    activityId: randomUUID(),
    scopeType: 'organization',
    scopeId: organization.id,
    data: { DisplayName: 'expired', ...data },
  };
}

async function partitionSize(organizationId: string, day: string): Promise<number> {
  let count = 0;
  for await (const _ of env.app.storage.table(TABLES.auditLog).listEntities({
    queryOptions: { filter: odata`PartitionKey eq ${`${organizationId}|${day}`}`, select: ['RowKey'] },
  })) {
    count++;
  }
  return count;
}

async function indexedDays(organizationId: string): Promise<string[]> {
  const days: string[] = [];
  for await (const row of env.app.storage.table(TABLES.auditDays).listEntities({ queryOptions: { filter: odata`PartitionKey eq ${organizationId}` } })) {
    days.push(row.rowKey!);
  }
  return days.sort();
}

async function blobCount(prefix: string): Promise<number> {
  let count = 0;
  for await (const _ of (await env.app.storage.blobs())!.getContainerClient('audit-payloads').listBlobsFlat({ prefix })) count++;
  return count;
}

describe('audit retention', () => {
  it('purges whole expired days in bounded runs that resume where they stopped', async () => {
    for (let i = 0; i < 150; i += 25) {
      await Promise.all(Array.from({ length: 25 }, (_, j) => writeAuditEvent(env.app, event(contoso, { DisplayName: `old ${i + j}` }))));
    }
    await writeAuditEvent(env.app, event(contoso, { Large: 'L'.repeat(50_000) }));
    for (let i = 0; i < 3; i++) await writeAuditEvent(env.app, event(fabrikam));
    env.clock.set(new Date(T0 + 10 * DAY));
    for (let i = 0; i < 5; i++) await writeAuditEvent(env.app, event(contoso));
    env.clock.set(new Date(T0 + 20 * DAY));
    for (let i = 0; i < 5; i++) await writeAuditEvent(env.app, event(contoso));

    expect(await partitionSize(contoso.id, '20260101')).toBe(151 * 2 + 1);
    expect(await blobCount(`${contoso.id}/20260101/`)).toBe(1);
    expect(await indexedDays(contoso.id)).toEqual(['20260101', '20260111', '20260121']);

    // 100 days later: with the default 90 days, 1 January is past retention, 11 January is kept.
    env.clock.set(new Date(T0 + 100 * DAY));
    const sizes: number[] = [];
    let runs = 0;
    while ((await indexedDays(contoso.id)).includes('20260101') || (await indexedDays(fabrikam.id)).length > 0) {
      await env.runtime.invoke('audit-retention');
      sizes.push(await partitionSize(contoso.id, '20260101'));
      runs++;
      expect(runs).toBeLessThan(20);
    }
    expect(runs).toBeGreaterThan(1);
    // Each run deleted some rows and left the rest for the next.
    expect(sizes[0]).toBeLessThan(303);
    expect(sizes[0]).toBeGreaterThan(0);
    expect([...sizes].sort((a, b) => b - a)).toEqual(sizes);
    expect(await partitionSize(contoso.id, '20260101')).toBe(0);
    expect(await blobCount(`${contoso.id}/20260101/`)).toBe(0);
    expect(await partitionSize(fabrikam.id, '20260101')).toBe(0);
    expect(await indexedDays(contoso.id)).toEqual(['20260111', '20260121']);
    expect(await partitionSize(contoso.id, '20260111')).toBe(11);
    const runLogs = env.logs.filter((line) => line.includes('audit retention run'));
    expect(runLogs.some((line) => line.includes('"complete":false'))).toBe(true);
    expect(runLogs.at(-1)).toContain('"complete":true');
  });

  it('honours the retention an administrator sets and refuses events older than it', async () => {
    const administrator = api.as(await env.userToken(alice.email));
    const SETTINGS = `/contoso/_apis/audit/settings?${V}`;
    expect((await administrator.patch(SETTINGS, { retentionDays: 0 })).status).toBe(400);
    // No retention below 30 days.
    expect((await administrator.patch(SETTINGS, { retentionDays: 1 })).status).toBe(400);
    expect((await administrator.patch(SETTINGS, { retentionDays: 30, extra: 1 })).status).toBe(400);
    const shortened = await administrator.patch(SETTINGS, { retentionDays: 30 });
    expect(shortened.status).toBe(200);
    // A shorter retention is announced, and applies only a week later: history cannot be erased in one step.
    const announced = shortened.body as Record<string, unknown>;
    expect(announced).toMatchObject({ retentionDays: 90, isDefault: true, pendingRetentionDays: 30 });
    expect(Date.parse(announced.pendingEffectiveDate as string)).toBe(env.clock.now().getTime() + 7 * DAY);
    await env.runtime.invoke('audit-retention');
    expect((await indexedDays(contoso.id)).some((day) => day < '20260311')).toBe(true);
    env.clock.advance(7 * DAY);
    const settings = await api.asUser(alice.email).get(SETTINGS);
    expect(settings.body).toEqual({ retentionDays: 30, isDefault: false });
    const bob = await env.userToken('bob@contoso.com');
    expect((await api.as(bob).get(SETTINGS)).status).toBe(403);

    for (let i = 0; i < 10 && (await indexedDays(contoso.id)).some((day) => day < '20260311'); i++) {
      await env.runtime.invoke('audit-retention');
    }
    // Only the day of the settings change itself remains (its event went through the outbox).
    expect((await indexedDays(contoso.id)).every((day) => day >= '20260311')).toBe(true);
    expect(await partitionSize(contoso.id, '20260121')).toBe(0);

    // An event older than the retention goes to the poison queue instead of resurrecting a purged day.
    const stale = { ...event(contoso), timestamp: new Date(T0 + 20 * DAY).toISOString() };
    await env.runtime.invoke('audit-writer', signAuditMessage(env.app, stale));
    const poison = await env.app.storage.queue(poisonQueueName(QUEUES.audit)).peekMessages({ numberOfMessages: 32 });
    const texts = poison.peekedMessageItems.map((item) => Buffer.from(item.messageText, 'base64').toString('utf8'));
    expect(texts.some((text) => text.includes(stale.id))).toBe(true);
    expect(env.logs.some((line) => line.includes('older than the organization') && line.includes(stale.id))).toBe(true);
    expect(await indexedDays(contoso.id)).not.toContain('20260121');
  });
});
