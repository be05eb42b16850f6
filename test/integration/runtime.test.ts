import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InvocationContext, Timer } from '@azure/functions';
import { queueFunction, timerFunction, type FunctionDeclaration } from '../../shared/runtime/declarations.js';
import { STORAGE_CONNECTION } from '../../shared/config.js';
import { encodeQueueMessage } from '../../shared/storage/queue.js';
import { startLocalRuntime } from '../../local/runner.js';
import { readHostSettings } from '../../local/host-settings.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';

interface Delivery {
  payload: unknown;
  metadata: Record<string, unknown>;
}
const deliveries: Delivery[] = [];
const timerRuns: { timer: Timer; name: string }[] = [];

const worker = queueFunction('test-worker', { queueName: '%TEST_QUEUE%', connection: STORAGE_CONNECTION }, async (payload, context: InvocationContext) => {
  deliveries.push({ payload, metadata: context.triggerMetadata ?? {} });
  if ((payload as { fail?: boolean } | null)?.fail) throw new Error('this message always fails');
});
const ticker = timerFunction('test-ticker', '%TEST_SCHEDULE%', async (timer) => {
  timerRuns.push({ timer, name: 'test-ticker' });
});
const testDeclarations: FunctionDeclaration[] = [worker, ticker];

let env: TestEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment({
    declarations: testDeclarations,
    triggers: true,
    seed: false,
    settings: { TEST_QUEUE: 'test-work', TEST_SCHEDULE: '* * * * * *' },
    host: { maxDequeueCount: 3, visibilityTimeoutSeconds: 0, maxPollingIntervalMs: 200, batchSize: 4 },
  });
  await env.app.storage.queue('test-work').createIfNotExists();
});
afterAll(async () => {
  await env?.stop();
});

async function waitFor(condition: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await condition())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

async function peekAll(queue: string): Promise<string[]> {
  const client = env.app.storage.queue(queue);
  if (!(await client.exists())) return [];
  const peeked = await client.peekMessages({ numberOfMessages: 32 });
  return peeked.peekedMessageItems.map((message) => message.messageText);
}

describe('queue triggers', () => {
  it('decodes base64 JSON, passes trigger metadata and deletes the message on success', async () => {
    await env.app.storage.queue('test-work').sendMessage(encodeQueueMessage({ hello: 'world', n: 1 }));
    await env.runtime.drainQueues();
    const delivery = deliveries.find((d) => (d.payload as { hello?: string }).hello === 'world');
    expect(delivery?.payload).toEqual({ hello: 'world', n: 1 });
    expect(delivery?.metadata).toMatchObject({ dequeueCount: 1, queueTrigger: '{"hello":"world","n":1}' });
    expect(typeof delivery?.metadata.id).toBe('string');
    expect(Number.isNaN(Date.parse(String(delivery?.metadata.insertionTime)))).toBe(false);
    expect(await peekAll('test-work')).toEqual([]);
  });

  it('passes non-JSON text through as a string', async () => {
    await env.app.storage.queue('test-work').sendMessage(Buffer.from('plain text').toString('base64'));
    await env.runtime.drainQueues();
    expect(deliveries.some((d) => d.payload === 'plain text')).toBe(true);
  });

  it('retries a failing message maxDequeueCount times, then moves it intact to <queue>-poison', async () => {
    const body = encodeQueueMessage({ fail: true, marker: 'poison-me' });
    await env.app.storage.queue('test-work').sendMessage(body);
    await waitFor(async () => (await peekAll('test-work-poison')).includes(body));
    const attempts = deliveries.filter((d) => (d.payload as { marker?: string }).marker === 'poison-me');
    expect(attempts.map((d) => d.metadata.dequeueCount)).toEqual([1, 2, 3]);
    await env.runtime.drainQueues();
    expect(await peekAll('test-work')).toEqual([]);
    expect(env.logs.some((line) => line.includes('message moved to poison queue') && line.includes('test-work'))).toBe(true);
  });

  it('sends a message that is not base64 to the poison queue without losing it', async () => {
    await env.app.storage.queue('test-work').sendMessage('{not base64!}');
    await waitFor(async () => (await peekAll('test-work-poison')).includes('{not base64!}'));
    expect(deliveries.some((d) => d.payload === '{not base64!}')).toBe(false);
  });

  it('processes a batch of messages', async () => {
    const before = deliveries.length;
    await Promise.all(Array.from({ length: 10 }, (_, i) => env.app.storage.queue('test-work').sendMessage(encodeQueueMessage({ batch: i }))));
    await env.runtime.drainQueues();
    const seen = deliveries
      .slice(before)
      .map((d) => (d.payload as { batch?: number }).batch)
      .filter((n) => n !== undefined);
    expect(seen.sort((a, b) => (a ?? 0) - (b ?? 0))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });
});

describe('timer triggers', () => {
  it('fires on its NCRONTAB schedule from an app setting', async () => {
    await waitFor(() => timerRuns.length >= 2, 5_000);
    const first = timerRuns[0]!.timer;
    expect(first.isPastDue).toBe(false);
    expect(Date.parse(first.scheduleStatus?.next ?? '')).toBeGreaterThan(Date.parse(first.scheduleStatus?.last ?? ''));
  });

  it('persists the schedule status and fires once with isPastDue after a missed run', async () => {
    const status = (await env.app.storage.blobs())!.getContainerClient('azure-webjobs-hosts').getBlockBlobClient('timers/missed-host/test-ticker/status');
    const missed = JSON.stringify({ Last: '2026-01-01T00:00:00.000Z', Next: '2026-01-01T00:05:00.000Z', LastUpdated: '2026-01-01T00:00:00.000Z' });
    await (await env.app.storage.blobs())!.getContainerClient('azure-webjobs-hosts').createIfNotExists();
    await status.upload(missed, missed.length);
    const before = timerRuns.length;
    const second = await startLocalRuntime({
      declarations: [timerFunction('test-ticker', '0 0 0 1 1 *', async (timer) => void timerRuns.push({ timer, name: 'second' }))],
      settings: {},
      queueClient: (_, queue) => env.app.storage.queue(queue),
      masterKey: env.masterKey,
      blobService: await env.app.storage.blobs(),
      log: env.app.log,
      port: 0,
      maxRequestBodyBytes: 1024 * 1024,
      hostId: 'missed-host',
    });
    try {
      await waitFor(() => timerRuns.slice(before).some((run) => run.name === 'second'));
      const run = timerRuns.slice(before).find((r) => r.name === 'second')!;
      expect(run.timer.isPastDue).toBe(true);
      await waitFor(async () => {
        const saved = JSON.parse((await status.downloadToBuffer()).toString()) as { Next: string };
        return saved.Next.startsWith(`${new Date().getUTCFullYear() + 1}-01-01`);
      });
    } finally {
      await second.stop();
    }
  });

  it('can be run on demand through POST /admin/functions/{name}', async () => {
    const before = timerRuns.length;
    const admin = { 'content-type': 'application/json', 'x-functions-key': env.masterKey };
    const response = await env.fetch('/admin/functions/test-ticker', { method: 'POST', body: '{}', headers: admin });
    expect(response.status).toBe(202);
    expect(timerRuns.length).toBeGreaterThan(before);
    const missing = await env.fetch('/admin/functions/nothing-here', { method: 'POST', body: '{}', headers: admin });
    expect(missing.status).toBe(404);
    expect(((await missing.json()) as { code: string }).code).toBe('functionNotFound');
  });

  it('refuses the admin API without the master key or with a body that is not declared JSON (as a web page would send it)', async () => {
    const before = timerRuns.length;
    const attempts: [Record<string, string>, number][] = [
      [{ 'content-type': 'application/json' }, 401],
      [{ 'content-type': 'application/json', 'x-functions-key': 'not-the-key-at-all-not-at-all' }, 401],
      [{ 'content-type': 'application/json', 'x-functions-key': `${env.masterKey}x` }, 401],
      [{ 'content-type': 'text/plain', 'x-functions-key': env.masterKey }, 415],
      [{ 'content-type': 'application/x-www-form-urlencoded', 'x-functions-key': env.masterKey }, 415],
    ];
    for (const [headers, status] of attempts) {
      const response = await env.fetch('/admin/functions/test-ticker', { method: 'POST', body: '{"input":""}', headers });
      expect(response.status, JSON.stringify(headers)).toBe(status);
    }
    expect(timerRuns.length).toBe(before);
  });

  it('refuses to start with a malformed schedule, naming the function', async () => {
    await expect(
      startLocalRuntime({
        declarations: [timerFunction('bad-timer', '%BAD%', async () => undefined)],
        settings: { BAD: '*/5 * * * *' },
        queueClient: (_, queue) => env.app.storage.queue(queue),
        masterKey: env.masterKey,
        log: env.app.log,
        port: 0,
        maxRequestBodyBytes: 1024,
        host: readHostSettings(),
      }),
    ).rejects.toThrow(/bad-timer: .*six-field/);
  });
});
