import { getConfig, type AppConfig } from './config.js';
import { systemClock, type Clock } from './clock.js';
import { createStorageClients, type StorageClients } from './storage/clients.js';
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
    verifyJwt: createJwtVerifier(config.auth, clock),
    directory: new DirectoryRepository(storage, { cacheSeconds: config.directoryCacheSeconds, now: () => clock.now().getTime() }),
    log: overrides.log ?? createLogger(config.logLevel),
  };
  startChangeFeed(app);
  return app;
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
