import type { Timer } from '@azure/functions';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startAzurite, type AzuriteInstance } from '../../local/azurite.js';
import { startLocalRuntime, type LocalRuntime } from '../../local/runner.js';
import { setLongTimeout, MAX_TIMEOUT_MS } from '../../local/timers.js';
import { createLogger } from '../../shared/logging.js';
import { createStorageClients } from '../../shared/storage/clients.js';
import { timerFunction } from '../../shared/runtime/declarations.js';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

describe('local timers', () => {
  let azurite: AzuriteInstance;
  const started: LocalRuntime[] = [];
  const log = createLogger('warn', () => undefined);

  beforeAll(async () => {
    azurite = await startAzurite({});
  });
  afterAll(async () => {
    await Promise.all(started.map((runtime) => runtime.stop()));
    await azurite.stop();
  });

  async function runtimeWith(schedule: string, onFire: (timer: Timer) => void, hostId = 'timers-test'): Promise<LocalRuntime> {
    const storage = createStorageClients({ kind: 'connectionString', connectionString: azurite.connectionString });
    const runtime = await startLocalRuntime({
      declarations: [timerFunction('Tick', schedule, async (timer) => onFire(timer))],
      settings: {},
      queueClient: (_connection, queue) => storage.queue(queue),
      blobService: await storage.blobs(),
      log,
      port: 0,
      maxRequestBodyBytes: 1024,
      masterKey: 'timers-test-master-key',
      triggers: true,
      hostId,
    });
    started.push(runtime);
    return runtime;
  }

  it('waits for a schedule more than 24.8 days away instead of firing in a loop', async () => {
    const due = new Date(Date.now() + 60 * 86_400_000);
    let fired = 0;
    await runtimeWith(`0 0 0 ${due.getDate()} ${due.getMonth() + 1} *`, () => fired++, 'timers-yearly');
    await sleep(1500);
    expect(fired).toBe(0);
  });

  it('setLongTimeout waits in steps past the setTimeout limit', async () => {
    let fired = false;
    const handle = setLongTimeout(() => (fired = true), MAX_TIMEOUT_MS + 10_000);
    await sleep(50);
    handle.cancel();
    expect(fired).toBe(false);
    let soon = false;
    setLongTimeout(() => (soon = true), 10);
    await sleep(100);
    expect(soon).toBe(true);
  });

  it('runs each occurrence on one instance only: the singleton lease', async () => {
    const fires: { instance: string; second: number }[] = [];
    const record = (instance: string) => () => fires.push({ instance, second: Math.floor(Date.now() / 1000) });
    await Promise.all([runtimeWith('* * * * * *', record('a'), 'timers-singleton'), runtimeWith('* * * * * *', record('b'), 'timers-singleton')]);
    await sleep(4200);
    const seconds = fires.map((fire) => fire.second);
    expect(fires.length).toBeGreaterThanOrEqual(3);
    expect(new Set(seconds).size).toBe(seconds.length);
    expect(new Set(fires.map((fire) => fire.instance)).size).toBe(1);
  });

  it('hands the schedule to the other instance when the holder stops', async () => {
    const fires: string[] = [];
    const first = await runtimeWith('* * * * * *', () => fires.push('first'), 'timers-handover');
    await sleep(1500);
    await runtimeWith('* * * * * *', () => fires.push('second'), 'timers-handover');
    await sleep(1500);
    expect(fires.filter((name) => name === 'second')).toHaveLength(0);
    await first.stop();
    started.splice(started.indexOf(first), 1);
    await sleep(2500);
    expect(fires.filter((name) => name === 'second').length).toBeGreaterThanOrEqual(1);
  });
});
