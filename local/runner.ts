import { randomUUID } from 'node:crypto';
import type { BlobServiceClient } from '@azure/storage-blob';
import type { QueueClient } from '@azure/storage-queue';
import { AppError } from '../shared/http/errors.js';
import type { Logger } from '../shared/logging.js';
import type { FunctionDeclaration, HttpDeclaration, QueueDeclaration, TimerDeclaration } from '../shared/runtime/declarations.js';
import { readHostSettings, type HostSettings } from './host-settings.js';
import { createHttpRoutes, startHttpServer } from './http-server.js';
import { createInvocations } from './invocations.js';
import { runQueueFunction, startQueueListeners } from './queue-listener.js';
import { parseSchedules, runTimerFunction, startTimerScheduler } from './timer-scheduler.js';

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

export async function startLocalRuntime(options: LocalRuntimeOptions): Promise<LocalRuntime> {
  const host = options.host ?? readHostSettings();
  const byName = new Map(options.declarations.map((declaration) => [declaration.name.toLowerCase(), declaration]));
  if (byName.size !== options.declarations.length) throw new Error('function names must be unique');
  const schedules = parseSchedules(options.declarations, options.settings);
  const routes = createHttpRoutes(
    options.declarations.filter((d): d is HttpDeclaration => d.kind === 'http'),
    host.routePrefix,
  );
  const invocations = createInvocations(options.log);
  const triggers = options.triggers !== false;
  let running = true;
  const isRunning = () => running;

  const queues = triggers
    ? startQueueListeners({
        declarations: options.declarations.filter((d): d is QueueDeclaration => d.kind === 'queue'),
        settings: options.settings,
        queueClient: options.queueClient,
        host,
        log: options.log,
        invocations,
        isRunning,
        messageLeaseSeconds: options.messageLeaseSeconds ?? 600,
      })
    : undefined;

  const timers = triggers
    ? await startTimerScheduler({
        declarations: options.declarations.filter((d): d is TimerDeclaration => d.kind === 'timer'),
        schedules,
        blobService: options.blobService,
        hostId: options.hostId ?? 'gatehouse-local',
        log: options.log,
        invocations,
        isRunning,
      })
    : undefined;

  const invoke = async (name: string, input?: unknown) => {
    const declaration = byName.get(name.toLowerCase());
    if (!declaration || declaration.kind === 'http') throw new AppError(404, 'functionNotFound', `No queue or timer function named '${name}'.`);
    if (declaration.kind === 'timer') {
      const now = new Date().toISOString();
      await runTimerFunction(invocations, declaration, {
        isPastDue: false,
        schedule: { adjustForDST: true },
        scheduleStatus: { last: now, next: now, lastUpdated: now },
      });
    } else {
      await runQueueFunction(invocations, declaration, input, { id: randomUUID(), dequeueCount: 1, insertionTime: new Date().toISOString() });
    }
  };

  const server = await startHttpServer({
    routes,
    port: options.port,
    hostname: options.hostname ?? '127.0.0.1',
    maxRequestBodyBytes: options.maxRequestBodyBytes,
    masterKey: options.masterKey,
    invoke,
    log: options.log,
    invocations,
  });

  const served: ServedFunction[] = options.declarations.map((declaration): ServedFunction => {
    switch (declaration.kind) {
      case 'http':
        return {
          kind: 'http',
          name: declaration.name,
          route: declaration.options.route,
          methods: [...declaration.options.methods],
          authLevel: declaration.options.authLevel,
        };
      case 'queue':
        return { kind: 'queue', name: declaration.name, queueName: declaration.options.queueName, connection: declaration.options.connection };
      case 'timer':
        return { kind: 'timer', name: declaration.name, ...declaration.options };
    }
  });

  return {
    url: server.url,
    served,
    invoke,
    drainQueues: async (timeoutMs = 15_000) => {
      await queues?.drain(timeoutMs);
    },
    stop: async () => {
      running = false;
      await timers?.stop();
      await queues?.stop();
      await server.close();
    },
  };
}
