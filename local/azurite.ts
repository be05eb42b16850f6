import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { createConnection, createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { azuriteConnectionString, azuriteEndpoints } from '../shared/storage/clients.js';

export interface AzuriteInstance {
  readonly host: string;
  readonly ports: { blob: number; queue: number; table: number };
  /** Each service's account URL (`https://…` when started with a certificate), for clients built from a URL and a credential. */
  readonly endpoints: { blob: string; queue: string; table: string };
  /** Shared-key connection string for the endpoints. */
  readonly connectionString: string;
  /** False when an Azurite already listening was reused. */
  readonly started: boolean;
  stop(): Promise<void>;
}

export const DEFAULT_AZURITE_PORTS = { blob: 10000, queue: 10001, table: 10002 } as const;

export function isListening(port: number, host = '127.0.0.1', timeoutMs = 500): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (result: boolean) => {
      socket.destroy();
      resolve(result);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

function azuriteEntry(): string {
  const require = createRequire(import.meta.url);
  return join(dirname(require.resolve('azurite/package.json')), 'dist', 'src', 'azurite.js');
}

async function waitForPorts(ports: number[], host: string, child: ChildProcess, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`Azurite exited with code ${child.exitCode}`);
    const ready = await Promise.all(ports.map((port) => isListening(port, host)));
    if (ready.every(Boolean)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Azurite did not listen on ${ports.join(', ')} within ${timeoutMs} ms`);
}

function addressesOf(host: string, ports: { blob: number; queue: number; table: number }, protocol: 'http' | 'https') {
  return { host, ports, endpoints: azuriteEndpoints(host, ports, protocol), connectionString: azuriteConnectionString(host, ports, protocol) };
}

/**
 * Starts Azurite (blob, queue, table) as a child process: persisted in `location`, or in memory.
 * `--skipApiVersionCheck` is needed because the storage SDKs send newer API versions than Azurite knows.
 * With `https` (PEM certificate and key files) it serves HTTPS; `oauth: 'basic'` (which needs HTTPS)
 * also accepts bearer tokens, as Azure Storage does from a token credential, checking their issuer,
 * audience and lifetime but not their signature.
 */
export async function startAzurite(options: {
  location?: string;
  ports?: { blob: number; queue: number; table: number };
  host?: string;
  https?: { certPath: string; keyPath: string };
  oauth?: 'basic';
}): Promise<AzuriteInstance> {
  if (options.oauth && !options.https) throw new Error('Azurite accepts bearer tokens only over HTTPS: give it a certificate too.');
  const host = options.host ?? '127.0.0.1';
  const ports = options.ports ?? { blob: await freePort(), queue: await freePort(), table: await freePort() };
  const args = [
    azuriteEntry(),
    '--blobHost',
    host,
    '--queueHost',
    host,
    '--tableHost',
    host,
    '--blobPort',
    String(ports.blob),
    '--queuePort',
    String(ports.queue),
    '--tablePort',
    String(ports.table),
    '--skipApiVersionCheck',
    '--loose',
    '--silent',
    '--disableTelemetry',
    ...(options.https ? ['--cert', options.https.certPath, '--key', options.https.keyPath] : []),
    ...(options.oauth ? ['--oauth', options.oauth] : []),
    ...(options.location ? ['--location', options.location] : ['--inMemoryPersistence']),
  ];
  // Its own process group: Ctrl+C in a terminal signals the whole foreground group, and Azurite
  // signalled twice (by the terminal, then by stop()) exits before it has saved its database.
  // Only stop() signals it, once, and waits for it to save and exit.
  const child = spawn(process.execPath, args, { stdio: ['ignore', 'ignore', 'pipe'], detached: true });
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);
  child.once('exit', () => process.off('exit', killOnExit));
  let stderr = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderr = (stderr + chunk.toString()).slice(-4000);
  });
  try {
    await waitForPorts([ports.blob, ports.queue, ports.table], host, child, 30_000);
  } catch (error) {
    child.kill('SIGKILL');
    throw new Error(`${(error as Error).message}\n${stderr}`, { cause: error });
  }
  return {
    ...addressesOf(host, ports, options.https ? 'https' : 'http'),
    started: true,
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null) return resolve();
        child.once('exit', () => resolve());
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
      }),
  };
}

/**
 * The ports of a loopback Azurite a connection string names (`UseDevelopmentStorage=true`: the
 * defaults); undefined for any other account.
 */
export function azuritePortsOf(connectionString: string | undefined): { blob: number; queue: number; table: number } | undefined {
  if (!connectionString || /UseDevelopmentStorage=true/i.test(connectionString)) return { ...DEFAULT_AZURITE_PORTS };
  const port = (service: string) => {
    const match = new RegExp(`${service}Endpoint=http://127\\.0\\.0\\.1:(\\d+)/`, 'i').exec(connectionString);
    return match ? Number(match[1]) : undefined;
  };
  const [blob, queue, table] = [port('Blob'), port('Queue'), port('Table')];
  return blob && queue && table ? { blob, queue, table } : undefined;
}

/** Reuses an Azurite already listening on `ports` (by default 10000-10002), otherwise starts one persisted in `location`. */
export async function startOrReuseAzurite(
  location: string,
  ports: { blob: number; queue: number; table: number } = DEFAULT_AZURITE_PORTS,
): Promise<AzuriteInstance> {
  const host = '127.0.0.1';
  const listening = await Promise.all(Object.values(ports).map((port) => isListening(port, host)));
  if (listening.every(Boolean)) {
    return {
      ...addressesOf(host, { ...ports }, 'http'),
      started: false,
      stop: async () => undefined,
    };
  }
  if (listening.some(Boolean)) {
    throw new Error(`Some of the ports ${Object.values(ports).join(', ')} are in use by something other than a complete Azurite; free them and retry.`);
  }
  return startAzurite({ location, ports: { ...ports }, host });
}
