import { createAppContext, useAppContext, type AppContext } from '../../shared/app-context.js';
import { loadConfig, STORAGE_CONNECTION } from '../../shared/config.js';
import { manualClock, type ManualClock } from '../../shared/clock.js';
import { createLogger, type LogLevel } from '../../shared/logging.js';
import { provisionStorage } from '../../shared/storage/provision.js';
import type { FunctionDeclaration } from '../../shared/runtime/declarations.js';
import { declarations as appDeclarations } from '../../functions/declarations.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startAzurite, type AzuriteInstance } from '../../local/azurite.js';
import { seedDemoData } from '../../local/demo-data.js';
import { generateMasterKey, generatePepperSetting, generateSigningKey, type SigningKey } from '../../local/dev-secrets.js';
import { startLocalRuntime, type LocalRuntime } from '../../local/runner.js';
import { readHostSettings, type HostSettings } from '../../local/host-settings.js';
import { appToken, userToken } from '../../local/tokens.js';
import { findSecrets, tokensIn } from './secrets.js';
import { stopChangeFeed } from '../../shared/coherence/changes.js';

/** The secret halves of a TOKEN_PEPPERS setting, in the forms they could leak in (base64, hex). */
function peppersOf(setting: string): string[] {
  return setting.split(',').flatMap((entry) => {
    const secret = entry.split(':')[1] ?? '';
    return secret ? [secret, Buffer.from(secret, 'base64').toString('hex')] : [];
  });
}

export const TEST_ISSUER = 'https://login.gatehouse.test/tenant/v2.0';
export const TEST_AUDIENCE = 'api://gatehouse-test';

export interface TestEnvironment {
  readonly url: string;
  readonly app: AppContext;
  readonly clock: ManualClock;
  readonly azurite: AzuriteInstance;
  /** Stops Azurite (storage outage) and starts it again on the same ports; needs `persistentStorage`. */
  readonly storageOutage: { begin(): Promise<void>; end(): Promise<void> };
  readonly runtime: LocalRuntime;
  readonly signingKey: SigningKey;
  /** Every log line the app wrote, for secret scans. */
  readonly logs: string[];
  readonly settings: Record<string, string>;
  /** The local runtime's admin key (`x-functions-key` for `POST /admin/functions/{name}`). */
  readonly masterKey: string;
  userToken(email: string, options?: Parameters<typeof userToken>[3]): Promise<string>;
  appToken(name: string, options?: Parameters<typeof appToken>[3]): Promise<string>;
  /**
   * Secrets this run handed out (every PAT seen in a response, plus any a test adds). When the
   * environment stops, storage and logs are scanned for them and for the peppers; a find fails.
   */
  readonly issuedSecrets: Set<string>;
  /** fetch relative to the runtime's base URL. */
  fetch(path: string, init?: RequestInit & { token?: string }): Promise<Response>;
  stop(): Promise<void>;
}

export interface TestEnvironmentOptions {
  readonly declarations?: readonly FunctionDeclaration[];
  readonly settings?: Record<string, string>;
  readonly host?: Partial<HostSettings['queues']>;
  /** Run queue listeners and timers (off by default; call runtime.invoke instead). */
  readonly triggers?: boolean;
  readonly seed?: boolean;
  readonly logLevel?: LogLevel;
  readonly now?: string;
  /** Shorter queue message leases (see LocalRuntimeOptions.messageLeaseSeconds). */
  readonly messageLeaseSeconds?: number;
  /** Keep Azurite's data on disk (a temporary folder) so it survives a restart. */
  readonly persistentStorage?: boolean;
  /** The key that signs test tokens (default: a new one), e.g. shared with the development sign-in. */
  readonly signingKey?: SigningKey;
}

/**
 * fetch relative to `base`, with an optional bearer token, that adds every PAT seen in a response to
 * `issuedSecrets` (for the secret scan at the end); `pendingReads` lets the scan wait for the reads.
 */
export function recordingFetch(base: string, issuedSecrets: Set<string>, pendingReads: Promise<unknown>[]): TestEnvironment['fetch'] {
  return async (path, init = {}) => {
    const { token, headers, ...rest } = init;
    const merged = new Headers(headers);
    if (token) merged.set('Authorization', `Bearer ${token}`);
    const response = await fetch(`${base}${path}`, { ...rest, headers: merged });
    pendingReads.push(
      response
        .clone()
        .text()
        .then((text) => tokensIn(text).forEach((secret) => issuedSecrets.add(secret)))
        .catch(() => undefined),
    );
    return response;
  };
}

/** The settings every test runtime gets: a private Azurite, the test issuer and key, fresh peppers. */
export function testSettings(
  connectionString: string,
  signingKey: SigningKey,
  options: Pick<TestEnvironmentOptions, 'logLevel' | 'settings'> = {},
): Record<string, string> {
  return {
    STORAGE: connectionString,
    AzureWebJobsStorage: connectionString,
    AUTH_ISSUER: TEST_ISSUER,
    AUTH_AUDIENCE: TEST_AUDIENCE,
    AUTH_JWKS: JSON.stringify(signingKey.publicJwks),
    TOKEN_PEPPERS: generatePepperSetting('1'),
    // Tests drain the audit queue right after a change has committed.
    AUDIT_DELIVERY_DELAY_SECONDS: '0',
    GRANT_REVIEW_SCHEDULE: '0 */15 * * * *',
    AUDIT_RETENTION_SCHEDULE: '0 30 2 * * *',
    LIFECYCLE_SCHEDULE: '0 */5 * * * *',
    ALLOW_HTTP_WEBHOOKS_FOR_LOCALHOST: 'true',
    // Webhook receivers and npm upstreams in tests listen on loopback: named exceptions to the outbound guard.
    OUTBOUND_ALLOWED_PRIVATE_HOSTS: 'localhost,127.0.0.1,::1',
    // The test client plays the proxy in front of the front end: its X-Forwarded-For entries are believed.
    TRUSTED_PROXIES: '127.0.0.1,::1,::ffff:127.0.0.1',
    LOG_LEVEL: options.logLevel ?? 'info',
    // Rate limits are exercised by their own tests; elsewhere they would only make tests order-dependent.
    RATE_LIMIT_WRITES_PER_MINUTE: '0',
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: '0',
    RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: '0',
    RATE_LIMIT_AUTH_FAILURES_PER_TOKEN_PER_MINUTE: '0',
    RATE_LIMIT_ORGANIZATIONS_PER_HOUR: '0',
    RATE_LIMIT_ORGANIZATIONS_PER_TENANT_PER_HOUR: '0',
    RATE_LIMIT_FEEDS_PER_HOUR: '0',
    RATE_LIMIT_GRANT_REQUESTS_PER_DAY: '0',
    ...options.settings,
  };
}

/**
 * A private Azurite (in memory, free ports) plus the local runtime serving the app over real HTTP,
 * with demo data seeded and a manual clock. One per test file.
 */
export async function startTestEnvironment(options: TestEnvironmentOptions = {}): Promise<TestEnvironment> {
  const location = options.persistentStorage ? mkdtempSync(join(tmpdir(), 'gatehouse-azurite-')) : undefined;
  let azurite = await startAzurite(location ? { location } : {});
  const storageOutage = {
    begin: async () => {
      if (!location) throw new Error('storageOutage needs persistentStorage: true');
      await azurite.stop();
    },
    end: async () => {
      azurite = await startAzurite({ location: location!, ports: azurite.ports });
    },
  };
  const signingKey = options.signingKey ?? (await generateSigningKey());
  const masterKey = generateMasterKey();
  const settings = testSettings(azurite.connectionString, signingKey, options);
  const config = loadConfig(settings);
  const clock = manualClock(options.now ?? new Date());
  const logs: string[] = [];
  const log = createLogger(config.logLevel, (line) => {
    logs.push(line);
    if (process.env.GATEHOUSE_TEST_LOGS) console.log(line);
  });
  const app = createAppContext(config, { clock, log });
  useAppContext(app);
  await provisionStorage(app.storage);
  if (options.seed !== false) await seedDemoData(app);

  const base = readHostSettings();
  const host: HostSettings = options.host ? { ...base, queues: { ...base.queues, ...options.host } } : base;
  const runtime = await startLocalRuntime({
    declarations: options.declarations ?? appDeclarations,
    settings,
    queueClient: (connection, queue) => {
      if (connection !== STORAGE_CONNECTION && connection !== 'AzureWebJobsStorage') throw new Error(`unknown connection ${connection}`);
      return app.storage.queue(queue);
    },
    blobService: await app.storage.blobs(),
    log,
    port: 0,
    host,
    maxRequestBodyBytes: config.maxRequestBodyBytes,
    masterKey,
    triggers: options.triggers ?? false,
    ...(options.messageLeaseSeconds ? { messageLeaseSeconds: options.messageLeaseSeconds } : {}),
  });

  const tokenSettings = { issuer: TEST_ISSUER, audience: TEST_AUDIENCE };
  const issuedSecrets = new Set<string>();
  const pendingReads: Promise<unknown>[] = [];
  return {
    url: runtime.url,
    app,
    clock,
    get azurite() {
      return azurite;
    },
    storageOutage,
    runtime,
    signingKey,
    logs,
    settings,
    masterKey,
    userToken: (email, tokenOptions = {}) => userToken(signingKey, tokenSettings, email, { now: clock.now(), ...tokenOptions }),
    appToken: (name, tokenOptions = {}) => appToken(signingKey, tokenSettings, name, { now: clock.now(), ...tokenOptions }),
    fetch: recordingFetch(runtime.url, issuedSecrets, pendingReads),
    issuedSecrets,
    stop: async () => {
      await stopChangeFeed(app);
      await runtime.stop();
      try {
        await Promise.all(pendingReads);
        const secrets = [...issuedSecrets, ...peppersOf(settings.TOKEN_PEPPERS ?? '')];
        const findings = await findSecrets(app.storage, logs, secrets);
        if (findings.length > 0) throw new Error(`plaintext secrets left behind:\n  ${findings.slice(0, 20).join('\n  ')}`);
      } finally {
        await azurite.stop();
      }
    },
  };
}
