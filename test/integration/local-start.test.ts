import { spawn, type ChildProcess } from 'node:child_process';
import { copyFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { TableClient } from '@azure/data-tables';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, isListening } from '../../local/azurite.js';
import { azuriteConnectionString } from '../../shared/storage/clients.js';
import { bundleEntry, PROJECT_ROOT } from '../helpers/bundle.js';

/**
 * `npm start` as a user runs it in a terminal: its own process group, stopped with Ctrl+C, which
 * the terminal delivers as SIGINT to every process of the foreground group.
 */
interface Started {
  readonly child: ChildProcess;
  readonly output: () => string;
}

async function startGatehouse(script: string, cwd: string, env: Record<string, string>, args: string[] = []): Promise<Started> {
  const child = spawn(process.execPath, [script, ...args], { cwd, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
  let output = '';
  child.stdout?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const deadline = Date.now() + 60_000;
  while (!output.includes('Gatehouse is listening on')) {
    if (child.exitCode !== null) throw new Error(`npm start exited early:\n${output}`);
    if (Date.now() > deadline) throw new Error(`npm start did not come up:\n${output}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return { child, output: () => output };
}

/** Ctrl+C: SIGINT to the whole process group, as a terminal sends it. */
async function pressCtrlC(started: Started): Promise<void> {
  const exited = new Promise<void>((resolve) => (started.child.exitCode !== null ? resolve() : started.child.once('exit', () => resolve())));
  process.kill(-started.child.pid!, 'SIGINT');
  await exited;
}

describe('npm start', () => {
  let script: string;
  let cwd: string;
  let env: Record<string, string>;
  let ports: { blob: number; queue: number; table: number };

  beforeAll(async () => {
    script = await bundleEntry('local/start.ts');
    cwd = mkdtempSync(join(tmpdir(), 'gatehouse-start-'));
    copyFileSync(join(PROJECT_ROOT, 'local.settings.json'), join(cwd, 'local.settings.json'));
    copyFileSync(join(PROJECT_ROOT, 'host.json'), join(cwd, 'host.json'));
    ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
    const storage = azuriteConnectionString('127.0.0.1', ports);
    env = { STORAGE: storage, AzureWebJobsStorage: storage, PORT: String(await freePort()), LOG_LEVEL: 'warn' };
  });

  afterAll(async () => {
    // Nothing may be left listening, whatever happened above.
    for (const port of Object.values(ports ?? {})) expect(await isListening(port)).toBe(false);
  });

  it('keeps data written just before Ctrl+C: Azurite is stopped once and saves', async () => {
    const first = await startGatehouse(script, cwd, env);
    const table = TableClient.fromConnectionString(env.STORAGE!, 'ctrlc', { allowInsecureConnection: true });
    await table.createTable();
    await table.createEntity({ partitionKey: 'p', rowKey: 'written-just-before', value: 'still here' });
    await pressCtrlC(first);
    expect(first.output()).not.toMatch(/Exit due to|unhandled/i);
    for (const port of Object.values(ports)) expect(await isListening(port)).toBe(false);

    const second = await startGatehouse(script, cwd, env);
    try {
      expect(second.output()).toContain('Azurite started');
      const row = await table.getEntity<{ value: string }>('p', 'written-just-before');
      expect(row.value).toBe('still here');
    } finally {
      await pressCtrlC(second);
    }
  }, 180_000);
});

describe('npm start -- --instances 2', () => {
  it('serves through one port from two instance processes and stops them all with one Ctrl+C', async () => {
    const script = await bundleEntry('local/start.ts');
    const instanceScript = await bundleEntry('local/instance.ts');
    const cwd = mkdtempSync(join(tmpdir(), 'gatehouse-start-'));
    copyFileSync(join(PROJECT_ROOT, 'local.settings.json'), join(cwd, 'local.settings.json'));
    copyFileSync(join(PROJECT_ROOT, 'host.json'), join(cwd, 'host.json'));
    // The launcher finds instance.js beside itself, as in dist/local.
    copyFileSync(instanceScript, join(dirname(script), 'instance.js'));
    const ports = { blob: await freePort(), queue: await freePort(), table: await freePort() };
    const storage = azuriteConnectionString('127.0.0.1', ports);
    const port = await freePort();
    const started = await startGatehouse(script, cwd, { STORAGE: storage, AzureWebJobsStorage: storage, PORT: String(port), LOG_LEVEL: 'info' }, [
      '--instances',
      '2',
    ]);
    try {
      expect(started.output()).toContain('2 instances, each its own process');
      for (let i = 0; i < 4; i++) expect((await fetch(`http://127.0.0.1:${port}/openapi.json`)).status).toBe(200);
      const served = new Set([...started.output().matchAll(/^\[(instance-\d)\] .*"function":"openapi"/gm)].map((match) => match[1]));
      expect(served).toEqual(new Set(['instance-1', 'instance-2']));
    } finally {
      await pressCtrlC(started);
    }
    expect(await isListening(port)).toBe(false);
    for (const azuritePort of Object.values(ports)) expect(await isListening(azuritePort)).toBe(false);
  }, 180_000);
});
