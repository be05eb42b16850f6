import { createRequire } from 'node:module';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import { encodeQueueMessage } from '../../shared/storage/queue.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';

/**
 * The real `@azure/functions` library registers functions with the host through the worker's
 * `@azure/functions-core` module. Supplying that module here captures exactly what the host would
 * receive from functions/index.ts, to compare with what the local runtime serves.
 */
interface CapturedFunction {
  name: string;
  bindings: Record<string, Record<string, unknown>>;
}

const captured: CapturedFunction[] = [];

function installCoreCapture(): void {
  const Module = createRequire(import.meta.url)('node:module') as {
    _load: (request: string, parent: unknown, isMain: boolean) => unknown;
  };
  const originalLoad = Module._load;
  const core = {
    version: '4.0.0',
    registerFunction: (metadata: CapturedFunction) => {
      captured.push(metadata);
      return { dispose: () => undefined };
    },
    setProgrammingModel: () => undefined,
    getProgrammingModel: () => undefined,
    registerHook: () => ({ dispose: () => undefined }),
    log: () => undefined,
    // eslint-disable-next-line @typescript-eslint/no-extraneous-class -- stands in for the host's Disposable class
    Disposable: class {},
  };
  Module._load = function load(request, parent, isMain) {
    if (request === '@azure/functions-core') return core;
    return originalLoad.call(this, request, parent, isMain);
  };
}

function trigger(fn: CapturedFunction): Record<string, unknown> {
  const binding = Object.values(fn.bindings).find((b) => String(b.type).endsWith('Trigger'));
  if (!binding) throw new Error(`no trigger binding for ${fn.name}`);
  return binding;
}

let env: TestEnvironment;
beforeAll(async () => {
  installCoreCapture();
  await import('../../functions/index.js');
  env = await startTestEnvironment({ triggers: true });
});
afterAll(async () => {
  await env?.stop();
});

function samplePath(route: string): string {
  const path = route
    .replace(/\{\*[^}]+\}/g, 'no/such/route')
    .replace(/\{organization\}/g, 'contoso')
    .replace(/\{[^}]+\}/g, '0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11');
  return `/${path}`;
}

async function invocationsOf(name: string): Promise<number> {
  return env.logs.filter((line) => line.includes('"message":"invocation"') && line.includes(`"function":"${name}"`)).length;
}

describe('one declaration feeds both hosts', () => {
  it('registers every declaration with the Functions host, once, under the same names', () => {
    expect(captured.map((fn) => fn.name).sort()).toEqual(declarations.map((d) => d.name).sort());
    expect(env.runtime.served.map((fn) => fn.name).sort()).toEqual(captured.map((fn) => fn.name).sort());
  });

  it('gives the host and the local runtime the same trigger options', () => {
    for (const fn of captured) {
      const binding = trigger(fn);
      const served = env.runtime.served.find((candidate) => candidate.name === fn.name);
      switch (binding.type) {
        case 'httpTrigger':
          expect(served, fn.name).toMatchObject({ kind: 'http', route: binding.route, methods: binding.methods, authLevel: binding.authLevel });
          break;
        case 'queueTrigger':
          expect(served, fn.name).toMatchObject({ kind: 'queue', queueName: binding.queueName, connection: binding.connection });
          break;
        case 'timerTrigger':
          expect(served, fn.name).toMatchObject({
            kind: 'timer',
            schedule: binding.schedule,
            runOnStartup: binding.runOnStartup,
            useMonitor: binding.useMonitor,
          });
          break;
        default:
          throw new Error(`unexpected trigger ${String(binding.type)} on ${fn.name}`);
      }
    }
  });

  it('routes a request for every registered HTTP route and method to that function', async () => {
    for (const fn of captured) {
      const binding = trigger(fn);
      if (binding.type !== 'httpTrigger') continue;
      for (const method of binding.methods as string[]) {
        const before = await invocationsOf(fn.name);
        const response = await env.fetch(`${samplePath(String(binding.route))}?api-version=7.1`, { method });
        await response.arrayBuffer();
        expect(response.status, `${method} ${String(binding.route)}`).toBeLessThan(500);
        expect(await invocationsOf(fn.name), `${method} ${String(binding.route)} → ${fn.name}`).toBe(before + 1);
      }
    }
  });

  it('listens on every registered queue', async () => {
    for (const fn of captured) {
      const binding = trigger(fn);
      if (binding.type !== 'queueTrigger') continue;
      const before = await invocationsOf(fn.name);
      await env.app.storage.queue(String(binding.queueName)).sendMessage(encodeQueueMessage({ probe: true }));
      await env.runtime.drainQueues();
      expect(await invocationsOf(fn.name), fn.name).toBeGreaterThan(before);
    }
  });
});
