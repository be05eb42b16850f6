import { getConfig, type AppConfig } from './config.js';
import { systemClock, type Clock } from './clock.js';
import { createStorageClients, type StorageClients } from './storage/clients.js';
import { guardedFetch } from './http/outbound.js';
import { createJwtVerifier, type JwtVerifier } from './auth/jwt.js';
import { DirectoryRepository } from './directory/repository.js';
import { createLogger, type Logger } from './logging.js';
import { startChangeFeed } from './coherence/changes.js';

/** Everything a handler needs, built once per process from the configuration. */
export interface AppContext {
  readonly config: AppConfig;
  readonly clock: Clock;
  readonly storage: StorageClients;
  readonly verifyJwt: JwtVerifier;
  readonly directory: DirectoryRepository;
  readonly log: Logger;
}

export function createAppContext(config: AppConfig, overrides: { clock?: Clock; log?: Logger } = {}): AppContext {
  const clock = overrides.clock ?? systemClock;
  const storage = createStorageClients(config.storage);
  const app: AppContext = {
    config,
    clock,
    storage,
    // The signing keys are fetched through the one guarded outbound client, as every outbound request is.
    verifyJwt: createJwtVerifier(config.auth, clock, (url) => guardedFetch(app, url, { timeoutMs: 10_000, maxResponseBytes: 512 * 1024 })),
    directory: new DirectoryRepository(storage, { cacheSeconds: config.directoryCacheSeconds, now: () => clock.now().getTime() }),
    log: overrides.log ?? createLogger(config.logLevel),
  };
  startChangeFeed(app);
  startTelemetry(app);
  return app;
}

let telemetryStarted = false;

/** Loads the OpenTelemetry SDK (a lazy chunk) once per process, only when an exporter is configured. */
function startTelemetry(app: AppContext): void {
  if (telemetryStarted || app.config.telemetry.exporter === 'off') return;
  telemetryStarted = true;
  void import('./telemetry/setup.js')
    .then(({ setUpTelemetry }) => setUpTelemetry(app.config.telemetry, app.log))
    .catch((error: unknown) => app.log.error('telemetry not started', { error: error instanceof Error ? error.name : 'unknown' }));
}

let current: AppContext | undefined;

export function getAppContext(): AppContext {
  current ??= createAppContext(getConfig());
  return current;
}

/** The local runtime and tests install their own context (own storage endpoints, clock, logger). */
export function useAppContext(context: AppContext): void {
  current = context;
}
