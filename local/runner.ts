import { randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import functions, { type HttpResponseInit, type Timer } from '@azure/functions';
import type { QueueClient } from '@azure/storage-queue';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { FunctionDeclaration, HttpDeclaration, QueueDeclaration, TimerDeclaration } from '../shared/runtime/declarations.js';
import { createRouteTable, splitPath } from '../shared/runtime/routes.js';
import { parseNcrontab, resolveSettingReference, type Schedule } from '../shared/runtime/ncrontab.js';
import { errorResponse, requestTooLarge } from '../shared/http/endpoint.js';
import { registerClientSignal } from '../shared/http/cancellation.js';
import { AppError, restErrorStatus } from '../shared/http/errors.js';
import { poisonQueueName } from '../shared/storage/names.js';
import type { Logger } from '../shared/logging.js';
import { readHostSettings, type HostSettings } from './host-settings.js';
import { setLongTimeout, TimerLeases, type TimerHandle } from './timers.js';

/**
 * A local stand-in for the Functions host: serves the HTTP declarations, runs queue triggers with the
 * host's queue semantics (host.json `extensions.queues`, poison queues) and timer triggers on their
 * NCRONTAB schedules with schedule monitoring. Production runs the same declarations on the real host.
 */
export interface LocalRuntimeOptions {
  readonly declarations: readonly FunctionDeclaration[];
  readonly settings: Record<string, string | undefined>;
  readonly queueClient: (connection: string, queueName: string) => QueueClient;
  readonly blobService?: BlobServiceClient | undefined;
  readonly log: Logger;
  readonly port: number;
  readonly hostname?: string;
  readonly host?: HostSettings;
  readonly maxRequestBodyBytes: number;
  /**
   * The key `POST /admin/functions/{name}` requires in `x-functions-key` (or `?code=`), as the real
   * host's admin API requires its master key; local development keeps it in `.local/master-key`.
   */
  readonly masterKey: string;
  /** Start queue listeners and timers (tests of HTTP alone may leave them off). */
  readonly triggers?: boolean;
  readonly hostId?: string;
  /**
   * How long a received message stays invisible while its function runs, renewed at half-time.
   * The host uses 10 minutes; tests shorten it so a message whose failure could not be reported
   * (storage down) comes back within seconds.
   */
  readonly messageLeaseSeconds?: number;
}

/** What the runtime serves, in the host's terms: for comparing with what the real host registers. */
export type ServedFunction =
  | { kind: 'http'; name: string; route: string; methods: string[]; authLevel: string }
  | { kind: 'queue'; name: string; queueName: string; connection: string }
  | { kind: 'timer'; name: string; schedule: string; runOnStartup: boolean; useMonitor: boolean };

export interface LocalRuntime {
  readonly url: string;
  readonly served: readonly ServedFunction[];
  /** Runs a queue or timer function once, as `POST /admin/functions/{name}` does. */
  invoke(name: string, input?: unknown): Promise<void>;
  /** Waits until every queue listener has polled an empty queue once after this call. */
  drainQueues(timeoutMs?: number): Promise<void>;
  stop(): Promise<void>;
}

type Outcome = 'succeeded' | 'failed';

// The library is CommonJS and its classes are not detected as named ESM exports.
const { HttpRequest, InvocationContext } = functions;

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const host = options.host ?? readHostSettings();
  const hostname = options.hostname ?? '127.0.0.1';
  const byName = new Map(options.declarations.map((declaration) => [declaration.name.toLowerCase(), declaration]));
  if (byName.size !== options.declarations.length) throw new Error('function names must be unique');

  const schedules = new Map<string, Schedule>();
  const problems: string[] = [];
  for (const declaration of options.declarations) {
    if (declaration.kind !== 'timer') continue;
    try {
      schedules.set(declaration.name, parseNcrontab(resolveSettingReference(declaration.options.schedule, options.settings)));
    } catch (error) {
      problems.push(`${declaration.name}: ${(error as Error).message}`);
    }
  }
  if (problems.length > 0) throw new Error(`Invalid timer schedules:\n  - ${problems.join('\n  - ')}`);

  const httpDeclarations = options.declarations.filter((d): d is HttpDeclaration => d.kind === 'http');
  const routes = createRouteTable(
    httpDeclarations.map((declaration) => ({
      route: joinRoute(host.routePrefix, declaration.options.route),
      methods: declaration.options.methods,
      value: declaration,
    })),
  );

  const logInvocation = (name: string, invocationId: string, started: number, outcome: Outcome, extra: Record<string, string | number> = {}) =>
    options.log.info('invocation', { function: name, invocationId, durationMs: Date.now() - started, outcome, ...extra });

  const contextFor = (name: string, triggerMetadata: Record<string, unknown>, invocationId = randomUUID()) =>
    new InvocationContext({
      invocationId,
      functionName: name,
      triggerMetadata,
      logHandler: (level, ...args) => {
        const message = args.map((arg) => (typeof arg === 'string' ? arg : JSON.stringify(arg))).join(' ');
        const write = level === 'error' || level === 'critical' ? options.log.error : level === 'warning' ? options.log.warn : options.log.info;
        write(message, { function: name, invocationId });
      },
    });

  // ---- queue triggers -------------------------------------------------------------------------
  let running = true;
  const listeners: QueueListener[] = [];
  const queueDeclarations = options.declarations.filter((d): d is QueueDeclaration => d.kind === 'queue');

  const runQueueFunction = async (declaration: QueueDeclaration, payload: unknown, metadata: Record<string, unknown>) => {
    const context = contextFor(declaration.name, metadata);
    const started = Date.now();
    try {
      await declaration.handler(payload, context);
      logInvocation(declaration.name, context.invocationId, started, 'succeeded');
    } catch (error) {
      logInvocation(declaration.name, context.invocationId, started, 'failed', { error: String((error as Error)?.message ?? error).slice(0, 500) });
      throw error;
    }
  };

  if (options.triggers !== false) {
    for (const declaration of queueDeclarations) {
      const queueName = resolveSettingReference(declaration.options.queueName, options.settings);
      const listener = new QueueListener(
        declaration,
        options.queueClient(declaration.options.connection, queueName),
        options.queueClient(declaration.options.connection, poisonQueueName(queueName)),
        host,
        options.log,
        (payload, metadata) => runQueueFunction(declaration, payload, metadata),
        () => running,
        options.messageLeaseSeconds ?? 600,
      );
      listeners.push(listener);
      listener.start();
    }
  }

  // ---- timer triggers -------------------------------------------------------------------------
  const timers: TimerHandle[] = [];
  const timerDeclarations = options.declarations.filter((d): d is TimerDeclaration => d.kind === 'timer');
  const monitor = new ScheduleMonitor(options.blobService, options.hostId ?? 'gatehouse-local');
  // Every instance keeps the schedule; only the holder of the timer's singleton lease runs it.
  const leases = options.blobService ? new TimerLeases(options.blobService, options.hostId ?? 'gatehouse-local', options.log) : undefined;

  const runTimerFunction = async (declaration: TimerDeclaration, timer: Timer) => {
    const context = contextFor(declaration.name, {});
    const started = Date.now();
    try {
      await declaration.handler(timer, context);
      logInvocation(declaration.name, context.invocationId, started, 'succeeded', { isPastDue: String(timer.isPastDue) });
    } catch (error) {
      logInvocation(declaration.name, context.invocationId, started, 'failed', { error: String((error as Error)?.message ?? error).slice(0, 500) });
      throw error;
    }
  };

  if (options.triggers !== false) {
    for (const declaration of timerDeclarations) {
      const schedule = schedules.get(declaration.name);
      if (!schedule) continue;
      const fire = async (isPastDue: boolean, last: Date | undefined) => {
        // A lease that cannot be read (storage down) is not held: this occurrence is skipped, never thrown.
        if (leases && !(await leases.holds(declaration.name).catch(() => false))) return;
        const now = new Date();
        const next = schedule.next(now);
        await runTimerFunction(declaration, {
          isPastDue,
          schedule: { adjustForDST: true },
          scheduleStatus: {
            last: (last ?? now).toISOString(),
            next: next?.toISOString() ?? '',
            lastUpdated: now.toISOString(),
          },
        }).catch(() => undefined);
        if (declaration.options.useMonitor) await monitor.save(declaration.name, { Last: now, Next: next }).catch(() => undefined);
      };
      const arm = (from: Date, last: Date | undefined) => {
        if (!running) return;
        const next = schedule.next(from);
        if (!next) return;
        const timeout = setLongTimeout(() => {
          void fire(false, last).finally(() => arm(next, next));
        }, next.getTime() - Date.now());
        timers.push(timeout);
      };
      const status = declaration.options.useMonitor ? await monitor.load(declaration.name).catch(() => undefined) : undefined;
      if (status?.Next && status.Next.getTime() < Date.now()) {
        void fire(true, status.Last).finally(() => arm(new Date(), new Date()));
      } else if (declaration.options.runOnStartup) {
        void fire(false, undefined).finally(() => arm(new Date(), new Date()));
      } else {
        arm(new Date(), status?.Last);
        if (declaration.options.useMonitor && !status) {
          await monitor.save(declaration.name, { Last: undefined, Next: schedule.next(new Date()) }).catch(() => undefined);
        }
      }
    }
  }

  const invoke = async (name: string, input?: unknown) => {
    const declaration = byName.get(name.toLowerCase());
    if (!declaration || declaration.kind === 'http') throw new AppError(404, 'functionNotFound', `No queue or timer function named '${name}'.`);
    if (declaration.kind === 'timer') {
      const now = new Date().toISOString();
      await runTimerFunction(declaration, { isPastDue: false, schedule: { adjustForDST: true }, scheduleStatus: { last: now, next: now, lastUpdated: now } });
    } else {
      await runQueueFunction(declaration, input, { id: randomUUID(), dequeueCount: 1, insertionTime: new Date().toISOString() });
    }
  };

  // ---- HTTP -----------------------------------------------------------------------------------
  const server: Server = createServer((req, res) => {
    void handleHttp(req, res).catch((error: unknown) => {
      options.log.error('local runtime failed to answer', { error: String(error) });
      if (!res.headersSent) res.writeHead(500);
      res.end();
    });
  });
  server.requestTimeout = 120_000;
  server.headersTimeout = 30_000;

  const handleHttp = async (req: IncomingMessage, res: ServerResponse) => {
    const url = new URL(req.url ?? '/', `http://${req.headers.host ?? `${hostname}`}`);
    const method = (req.method ?? 'GET').toUpperCase();
    const segments = splitPath(url.pathname);
    if (!segments) return send(res, errorResponse(new AppError(400, 'invalidPath', 'The request path is not valid URL encoding.')));

    if (segments[0]?.toLowerCase() === 'admin' && segments[1]?.toLowerCase() === 'functions' && segments.length === 3 && method === 'POST') {
      const refusal = adminRefusal(req, url, options.masterKey);
      if (refusal) {
        req.resume();
        return send(res, errorResponse(refusal));
      }
      const body = await readBody(req, options.maxRequestBodyBytes).catch(() => undefined);
      let input: unknown;
      try {
        input = body && body.length > 0 ? (JSON.parse(body.toString('utf8')) as { input?: unknown }).input : undefined;
      } catch {
        return send(res, errorResponse(new AppError(400, 'invalidJson', 'The request body is not valid JSON.')));
      }
      try {
        await invoke(segments[2] ?? '', input);
        return send(res, { status: 202 });
      } catch (error) {
        if (error instanceof AppError) return send(res, errorResponse(error));
        return send(res, { status: 500 });
      }
    }

    const match = routes.find(method, segments);
    if (!match) return send(res, errorResponse(new AppError(404, 'routeNotFound', 'No API is registered at this path.')));

    let body: ReadableStream<Uint8Array> | undefined;
    if (method !== 'GET' && method !== 'HEAD') {
      const limit = match.entry.maxBodyBytes?.() ?? options.maxRequestBodyBytes;
      const declared = Number(req.headers['content-length'] ?? '0');
      if (declared > limit) return sendAndClose(res, errorResponse(requestTooLarge(limit)));
      // Streamed to the function as the host streams it: the reader enforces the route's limit as it reads.
      if (declared > 0 || req.headers['transfer-encoding'] !== undefined) body = Readable.toWeb(req) as ReadableStream<Uint8Array>;
    }

    const headers: Record<string, string> = {};
    for (const [name, value] of Object.entries(req.headers)) {
      if (value !== undefined) headers[name] = Array.isArray(value) ? value.join(', ') : value;
    }
    // The Functions front end appends the address of the peer it serves to X-Forwarded-For; so does this runtime.
    const peer = req.socket.remoteAddress ?? 'unknown';
    headers['x-forwarded-for'] = headers['x-forwarded-for'] ? `${headers['x-forwarded-for']}, ${peer}` : peer;
    const request = new HttpRequest({
      method,
      url: url.toString(),
      headers,
      params: match.params,
      ...(body ? { nativeRequest: new Request(url, { method, headers, body, duplex: 'half' } as RequestInit) } : {}),
    } as ConstructorParameters<typeof HttpRequest>[0]);
    // Made only when a function asks (an abort costs an exception object): most requests never do.
    let clientGone: AbortController | undefined;
    let gone = false;
    res.once('close', () => {
      if (res.writableFinished) return;
      gone = true;
      clientGone?.abort();
    });
    registerClientSignal(request, () => {
      if (!clientGone) {
        clientGone = new AbortController();
        if (gone) clientGone.abort();
      }
      return clientGone.signal;
    });
    const context = contextFor(match.entry.name, {});
    const started = Date.now();
    let response: HttpResponseInit;
    try {
      response = await match.entry.handler(request, context);
    } catch (error) {
      logInvocation(match.entry.name, context.invocationId, started, 'failed', { status: 500, error: String((error as Error)?.message ?? error).slice(0, 500) });
      return send(res, { status: 500 });
    }
    logInvocation(match.entry.name, context.invocationId, started, 'succeeded', { method, status: response.status ?? 200 });
    // A body the function did not read (refused before reading it) is not drained: the connection closes.
    if (body && !req.complete) return sendAndClose(res, response);
    return send(res, response, method === 'HEAD');
  };

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port, hostname, () => resolve());
  });
  const address = server.address() as AddressInfo;
  const baseUrl = `http://${hostname}:${address.port}`;

  const served: ServedFunction[] = options.declarations.map((declaration): ServedFunction => {
    switch (declaration.kind) {
      case 'http':
        return { kind: 'http', name: declaration.name, route: declaration.options.route, methods: [...declaration.options.methods], authLevel: declaration.options.authLevel };
      case 'queue':
        return { kind: 'queue', name: declaration.name, queueName: declaration.options.queueName, connection: declaration.options.connection };
      case 'timer':
        return { kind: 'timer', name: declaration.name, ...declaration.options };
    }
  });

  return {
    url: baseUrl,
    served,
    invoke,
    drainQueues: async (timeoutMs = 15_000) => {
      // Twice: a function of one queue may put messages on another (notices → webhook deliveries).
      for (let round = 0; round < 2; round += 1) await Promise.all(listeners.map((listener) => listener.waitUntilIdle(timeoutMs)));
    },
    stop: async () => {
      running = false;
      timers.forEach((timer) => timer.cancel());
      await leases?.releaseAll();
      listeners.forEach((listener) => listener.wake());
      await Promise.all(listeners.map((listener) => listener.stopped));
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
    },
  };
}

/**
 * Why an admin request is refused: no or a wrong master key (401), or a body that is not declared
 * JSON (415), so a web page cannot trigger it with a form or a simple cross-origin request.
 */
function adminRefusal(req: IncomingMessage, url: URL, masterKey: string): AppError | undefined {
  const given = String(req.headers['x-functions-key'] ?? url.searchParams.get('code') ?? '');
  const expected = Buffer.from(masterKey, 'utf8');
  const actual = Buffer.from(given, 'utf8');
  if (masterKey.length < 16 || actual.length !== expected.length || !timingSafeEqual(actual, expected)) {
    return new AppError(401, 'unauthorized', 'The admin API requires the master key in the x-functions-key header.');
  }
  const contentType = String(req.headers['content-type'] ?? '').split(';')[0]?.trim().toLowerCase();
  if (contentType !== 'application/json') return new AppError(415, 'unsupportedMediaType', 'Send the admin request body as application/json.');
  return undefined;
}

function joinRoute(prefix: string, route: string): string {
  return [prefix, route].filter((part) => part.length > 0).join('/');
}

/** Reads at most `limit` bytes; undefined when the body is larger. */
function readBody(req: IncomingMessage, limit: number): Promise<Buffer | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > limit) {
        tooLarge = true;
        chunks.length = 0;
        return;
      }
      if (!tooLarge) chunks.push(chunk);
    });
    req.on('end', () => resolve(tooLarge ? undefined : Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

async function send(res: ServerResponse, response: HttpResponseInit, headOnly = false): Promise<void> {
  const headers = headerRecord(response.headers);
  let payload: Buffer | undefined;
  if (response.jsonBody !== undefined) {
    payload = Buffer.from(JSON.stringify(response.jsonBody));
    headers['content-type'] ??= 'application/json';
  } else if (typeof response.body === 'string') {
    payload = Buffer.from(response.body);
    headers['content-type'] ??= 'text/plain; charset=utf-8';
  } else if (response.body instanceof Uint8Array) {
    payload = Buffer.from(response.body);
  } else if (response.body instanceof ReadableStream) {
    res.writeHead(response.status ?? 200, headers);
    // Pull the next chunk only when the socket has taken the last one: never buffer a whole stream.
    for await (const chunk of response.body as ReadableStream<Uint8Array>) {
      if (res.destroyed) break;
      if (!res.write(chunk)) await new Promise<void>((resolve) => {
        const done = () => {
          res.off('drain', done);
          res.off('close', done);
          resolve();
        };
        res.on('drain', done);
        res.on('close', done);
      });
    }
    res.end();
    return;
  }
  if (payload) headers['content-length'] = String(payload.length);
  res.writeHead(response.status ?? 200, headers);
  res.end(headOnly ? undefined : payload);
}

/**
 * Response headers as the host sends them: names lower-cased, a name given twice joined with ", "
 * (as a fetch Headers object would, without making one per response).
 */
function headerRecord(init: HttpResponseInit['headers']): Record<string, string> {
  const headers: Record<string, string> = {};
  if (!init) return headers;
  const add = (name: string, value: string) => {
    const key = name.toLowerCase();
    headers[key] = headers[key] === undefined ? value : `${headers[key]}, ${value}`;
  };
  if (init instanceof Headers) init.forEach((value, name) => add(name, value));
  else if (Array.isArray(init)) for (const [name, value] of init as [string, string][]) add(name, String(value));
  else for (const name of Object.keys(init)) add(name, String((init as Record<string, unknown>)[name]));
  return headers;
}

/** Answers and closes the connection without reading the rest of an oversized body. */
async function sendAndClose(res: ServerResponse, response: HttpResponseInit): Promise<void> {
  res.setHeader('Connection', 'close');
  await send(res, response);
}

// ---- queue listener ---------------------------------------------------------------------------

class QueueListener {
  private wakeUp: (() => void) | undefined;
  private idleWaiters: { registeredAt: number; resolve: () => void }[] = [];
  private pollsStarted = 0;
  readonly stopped: Promise<void>;
  private resolveStopped!: () => void;
  private readonly inFlight = new Set<Promise<void>>();

  constructor(
    private readonly declaration: QueueDeclaration,
    private readonly queue: QueueClient,
    private readonly poison: QueueClient,
    private readonly host: HostSettings,
    private readonly log: Logger,
    private readonly run: (payload: unknown, metadata: Record<string, unknown>) => Promise<void>,
    private readonly isRunning: () => boolean,
    private readonly leaseSeconds: number,
  ) {
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
  }

  start(): void {
    void this.loop().finally(() => this.resolveStopped());
  }

  wake(): void {
    this.wakeUp?.();
  }

  waitUntilIdle(timeoutMs: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`queue ${this.queue.name} did not drain in ${timeoutMs} ms`)), timeoutMs);
      // Only a poll that starts after this call proves the queue was empty after it.
      this.idleWaiters.push({
        registeredAt: this.pollsStarted,
        resolve: () => {
          clearTimeout(timer);
          resolve();
        },
      });
      this.wake();
    });
  }

  private async loop(): Promise<void> {
    const { queues } = this.host;
    let delay = 100;
    while (this.isRunning()) {
      let found = 0;
      const pollIndex = ++this.pollsStarted;
      try {
        // As the host does: a new batch is fetched once the messages in flight drop to newBatchThreshold.
        const room = queues.batchSize + queues.newBatchThreshold - this.inFlight.size;
        const response = await this.queue.receiveMessages({ numberOfMessages: Math.min(queues.batchSize, room), visibilityTimeout: this.leaseSeconds });
        found = response.receivedMessageItems.length;
        for (const message of response.receivedMessageItems) {
          // A message that cannot be settled (storage down) becomes visible again when its lease ends, as on the host.
          const running: Promise<void> = this.process(message)
            .catch((error: unknown) => {
              this.log.warn('a queue message could not be settled', { function: this.declaration.name, error: String((error as Error)?.message ?? error).slice(0, 200) });
            })
            .finally(() => this.inFlight.delete(running));
          this.inFlight.add(running);
        }
        while (this.inFlight.size > queues.newBatchThreshold) await Promise.race(this.inFlight);
      } catch (error) {
        if (restErrorStatus(error) === 404) await this.queue.createIfNotExists().catch(() => undefined);
        else this.log.warn('queue poll failed', { queue: this.queue.name, error: String((error as Error)?.message ?? error).slice(0, 300) });
      }
      if (found > 0) {
        delay = 100;
        continue;
      }
      // Idle only when nothing is in flight either; otherwise keep polling at the usual back-off.
      if (this.inFlight.size === 0) {
        const satisfied = this.idleWaiters.filter((waiter) => waiter.registeredAt < pollIndex);
        this.idleWaiters = this.idleWaiters.filter((waiter) => waiter.registeredAt >= pollIndex);
        satisfied.forEach((waiter) => waiter.resolve());
        if (this.idleWaiters.length > 0) continue;
      }
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, delay * (0.8 + Math.random() * 0.4));
        timer.unref();
        this.wakeUp = () => {
          clearTimeout(timer);
          resolve();
        };
      });
      delay = Math.min(delay * 2, queues.maxPollingIntervalMs);
    }
    await Promise.all(this.inFlight);
    const waiters = this.idleWaiters;
    this.idleWaiters = [];
    waiters.forEach((waiter) => waiter.resolve());
  }

  private async process(message: {
    messageId: string;
    popReceipt: string;
    messageText: string;
    dequeueCount: number;
    insertedOn: Date;
    expiresOn: Date;
    nextVisibleOn: Date;
  }): Promise<void> {
    const { queues } = this.host;
    if (message.dequeueCount > queues.maxDequeueCount) return this.moveToPoison(message, 'dequeue count exceeded before invocation');
    let outcome: 'ok' | 'failed' = 'ok';
    let reason = '';
    let text: string;
    try {
      text = decodeMessage(message.messageText, queues.messageEncoding);
    } catch (error) {
      // As the host's queue extension (5.x) does: a message it cannot decode goes to poison at once,
      // since retrying cannot help (Azure/azure-sdk-for-net#18326).
      return this.moveToPoison(message, `message decoding failed: ${String((error as Error)?.message ?? error).slice(0, 200)}`);
    }
    // Keep the message invisible while the function runs, as the host renews its lease at half-time.
    let popReceipt = message.popReceipt;
    const renewal = setInterval(() => {
      this.queue
        .updateMessage(message.messageId, popReceipt, undefined, this.leaseSeconds)
        .then((renewed) => {
          if (renewed.popReceipt) popReceipt = renewed.popReceipt;
        })
        .catch(() => undefined);
    }, (this.leaseSeconds * 1000) / 2);
    try {
      await this.run(parsePayload(text), {
        id: message.messageId,
        popReceipt: message.popReceipt,
        dequeueCount: message.dequeueCount,
        insertionTime: message.insertedOn.toISOString(),
        expirationTime: message.expiresOn.toISOString(),
        nextVisibleTime: message.nextVisibleOn.toISOString(),
        queueTrigger: text,
      });
    } catch (error) {
      outcome = 'failed';
      reason = String((error as Error)?.message ?? error).slice(0, 300);
    } finally {
      clearInterval(renewal);
    }
    const settled = { ...message, popReceipt };
    if (outcome === 'ok') {
      await this.queue.deleteMessage(settled.messageId, settled.popReceipt).catch(ignoreGone);
      return;
    }
    if (message.dequeueCount >= queues.maxDequeueCount) return this.moveToPoison(settled, reason);
    await this.queue
      .updateMessage(settled.messageId, settled.popReceipt, undefined, queues.visibilityTimeoutSeconds)
      .catch(ignoreGone);
  }

  private async moveToPoison(message: { messageId: string; popReceipt: string; messageText: string }, reason: string): Promise<void> {
    await this.poison.createIfNotExists();
    await this.poison.sendMessage(message.messageText);
    await this.queue.deleteMessage(message.messageId, message.popReceipt).catch(ignoreGone);
    this.log.warn('message moved to poison queue', {
      function: this.declaration.name,
      queue: this.queue.name,
      messageId: message.messageId,
      reason,
    });
  }
}

function ignoreGone(error: unknown): void {
  const status = restErrorStatus(error);
  if (status === 404 || status === 400) return;
  throw error;
}

export function decodeMessage(text: string, encoding: 'base64' | 'none'): string {
  if (encoding === 'none') return text;
  if (!/^[A-Za-z0-9+/]*={0,2}$/.test(text) || text.length % 4 !== 0) {
    throw new Error('the message is not valid base64 (host.json messageEncoding is base64)');
  }
  return Buffer.from(text, 'base64').toString('utf8');
}

/** As the Node worker does: JSON when it parses, the string otherwise. */
function parsePayload(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return text;
  }
}

// ---- schedule monitor -------------------------------------------------------------------------

interface ScheduleStatus {
  Last: Date | undefined;
  Next: Date | undefined;
}

/** Persists timer status where the host keeps it: `azure-webjobs-hosts/timers/<hostId>/<function>/status`. */
class ScheduleMonitor {
  constructor(
    private readonly blobs: BlobServiceClient | undefined,
    private readonly hostId: string,
  ) {}

  private blob(name: string) {
    return this.blobs?.getContainerClient('azure-webjobs-hosts').getBlockBlobClient(`timers/${this.hostId}/${name}/status`);
  }

  async load(name: string): Promise<ScheduleStatus | undefined> {
    const blob = this.blob(name);
    if (!blob || !(await blob.exists())) return undefined;
    const text = (await blob.downloadToBuffer()).toString('utf8');
    const json = JSON.parse(text) as { Last?: string; Next?: string };
    return { Last: json.Last ? new Date(json.Last) : undefined, Next: json.Next ? new Date(json.Next) : undefined };
  }

  async save(name: string, status: ScheduleStatus): Promise<void> {
    const blob = this.blob(name);
    if (!blob) return;
    await this.blobs?.getContainerClient('azure-webjobs-hosts').createIfNotExists();
    const body = JSON.stringify({ Last: status.Last?.toISOString(), Next: status.Next?.toISOString(), LastUpdated: new Date().toISOString() });
    await blob.upload(body, Buffer.byteLength(body));
  }
}
