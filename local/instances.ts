import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, request as httpRequest, Agent, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { fileURLToPath } from 'node:url';
import { errorResponse } from '../shared/http/endpoint.js';
import { AppError } from '../shared/http/errors.js';

/**
 * `npm start -- --instances N`: N runtimes, each its own process with its own caches, on one storage
 * account behind one port, as the Functions host scales out behind its front end. Requests are
 * spread round-robin; queue triggers compete for messages; timers take the singleton lease.
 */
export interface InstancesOptions {
  readonly count: number;
  /** The port clients use (0: a free one). */
  readonly port: number;
  readonly hostname?: string;
  /** Environment of every instance (its settings); PORT is chosen per instance. */
  readonly env: Record<string, string | undefined>;
  /** The instance entry script (default: local/instance.js beside this module). */
  readonly entry?: string;
  /** Receives each instance's output, prefixed; default: this process's stdout/stderr. */
  readonly output?: (line: string) => void;
}

export interface RunningInstance {
  readonly name: string;
  readonly url: string;
  readonly pid: number;
}

export interface Instances {
  /** The round-robin front end. */
  readonly url: string;
  readonly instances: readonly RunningInstance[];
  stop(): Promise<void>;
}

export async function startInstances(options: InstancesOptions): Promise<Instances> {
  const entry = options.entry ?? fileURLToPath(new URL('./instance.js', import.meta.url));
  const hostname = options.hostname ?? '127.0.0.1';
  const children: ChildProcess[] = [];
  const stopChildren = () =>
    Promise.all(
      children.map(
        (child) =>
          new Promise<void>((resolve) => {
            if (child.exitCode !== null || child.signalCode !== null) return resolve();
            child.once('exit', () => resolve());
            child.kill('SIGTERM');
            setTimeout(() => child.kill('SIGKILL'), 15_000).unref();
          }),
      ),
    );
  const killOnExit = () => children.forEach((child) => child.kill('SIGKILL'));
  process.once('exit', killOnExit);

  let instances: RunningInstance[];
  try {
    instances = await Promise.all(
      Array.from({ length: options.count }, (_, index) => {
        const name = `instance-${index + 1}`;
        // Own process group, like Azurite: only the launcher stops an instance, once.
        const child = spawn(process.execPath, [entry], {
          env: { ...options.env, PORT: '0', GATEHOUSE_INSTANCE: name },
          stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
          detached: true,
        });
        children.push(child);
        const write = options.output ?? ((line: string) => process.stdout.write(`${line}\n`));
        const forward = (chunk: Buffer) =>
          chunk
            .toString()
            .split('\n')
            .filter((line) => line.length > 0)
            .forEach((line) => write(`[${name}] ${line}`));
        child.stdout?.on('data', forward);
        child.stderr?.on('data', forward);
        return new Promise<RunningInstance>((resolve, reject) => {
          child.once('exit', (code) => reject(new Error(`${name} exited with code ${code} before it was ready`)));
          child.on('message', (message: { ready?: string }) => {
            if (message.ready) resolve({ name, url: message.ready, pid: child.pid ?? 0 });
          });
        });
      }),
    );
  } catch (error) {
    await stopChildren();
    process.off('exit', killOnExit);
    throw error;
  }

  const { server, url } = await startRoundRobin(
    instances.map((instance) => new URL(instance.url)),
    options.port,
    hostname,
  );
  return {
    url,
    instances,
    stop: async () => {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await stopChildren();
      process.off('exit', killOnExit);
    },
  };
}

/** A reverse proxy handing each request to the next instance in turn. */
async function startRoundRobin(targets: readonly URL[], port: number, hostname: string): Promise<{ server: Server; url: string }> {
  const [first] = targets;
  if (!first) throw new Error('the round robin needs at least one instance');
  const agent = new Agent({ keepAlive: true, maxSockets: 256 });
  let next = 0;
  const server = createServer((req, res) => {
    const target = targets[next++ % targets.length] ?? first;
    const headers = { ...req.headers };
    // The instance sees the client's address, as behind the Functions front end.
    headers['x-forwarded-for'] ??= req.socket.remoteAddress ?? 'unknown';
    const upstream = httpRequest({ agent, host: target.hostname, port: target.port, method: req.method, path: req.url, headers }, (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.headers);
      answer.pipe(res);
    });
    upstream.on('error', () => {
      if (res.headersSent) return void res.end();
      const answer = errorResponse(new AppError(502, 'instanceUnavailable', 'The instance chosen for this request did not answer.'));
      res.writeHead(502, answer.headers as Record<string, string>);
      res.end(answer.body as string);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, hostname, () => resolve());
  });
  const address = server.address() as AddressInfo;
  return { server, url: `http://${hostname}:${address.port}` };
}

/** `--instances N` from the command line (default 1). */
export function instancesFromArguments(argv: readonly string[]): number {
  const index = argv.findIndex((arg) => arg === '--instances' || arg.startsWith('--instances='));
  if (index === -1) return 1;
  const arg = argv[index] ?? '';
  const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[index + 1];
  const count = Number(value);
  if (!Number.isInteger(count) || count < 1 || count > 32) throw new Error('--instances takes a whole number from 1 to 32');
  return count;
}
