import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseNcrontab } from './runtime/ncrontab.js';

/**
 * The one place that reads app settings. Everything else receives a validated AppConfig.
 * Settings named `X_FILE` are read from a file (local development keeps generated secrets in
 * `.local/`); in Azure the plain setting is used, typically as a Key Vault reference.
 */

export const STORAGE_CONNECTION = 'STORAGE';

const httpsOrLocalUrl = z
  .string()
  .url()
  .refine((value) => {
    const url = new URL(value);
    return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
  }, 'must be an https URL (http is allowed only for localhost)');

const pepperList = z
  .string()
  .min(1)
  .transform((value, ctx) => {
    const peppers: { version: string; secret: Buffer }[] = [];
    for (const item of value.split(',').map((part) => part.trim()).filter(Boolean)) {
      const match = /^([A-Za-z0-9]{1,8}):([A-Za-z0-9+/=_-]+)$/.exec(item);
      const secret = match ? Buffer.from(match[2] ?? '', 'base64') : Buffer.alloc(0);
      if (!match || secret.length < 32) {
        ctx.addIssue({ code: 'custom', message: 'each entry must be <version>:<base64 of at least 32 bytes>' });
        return z.NEVER;
      }
      if (peppers.some((pepper) => pepper.version === match[1])) {
        ctx.addIssue({ code: 'custom', message: `pepper version ${match[1]} is listed twice` });
        return z.NEVER;
      }
      peppers.push({ version: match[1] ?? '', secret });
    }
    if (peppers.length === 0) {
      ctx.addIssue({ code: 'custom', message: 'at least one pepper is required' });
      return z.NEVER;
    }
    return peppers;
  });

const jwks = z
  .string()
  .transform((value, ctx) => {
    try {
      return JSON.parse(value) as unknown;
    } catch {
      ctx.addIssue({ code: 'custom', message: 'must be a JSON Web Key Set' });
      return z.NEVER;
    }
  })
  .pipe(z.object({ keys: z.array(z.record(z.string(), z.unknown())).min(1) }));

const ncrontab = z.string().superRefine((value, ctx) => {
  try {
    parseNcrontab(value);
  } catch (error) {
    ctx.addIssue({ code: 'custom', message: (error as Error).message });
  }
});

/** Daily at 02:30 UTC: audit day partitions past their organization's retention are purged. */
export const DEFAULT_AUDIT_RETENTION_SCHEDULE = '0 30 2 * * *';

/** Every 5 minutes: expired tokens and keys are marked and expiry reminders queued. */
export const DEFAULT_LIFECYCLE_SCHEDULE = '0 */5 * * * *';

const booleanSetting = (fallback: boolean) =>
  z
    .enum(['true', 'false', 'True', 'False', '1', '0'])
    .default(fallback ? 'true' : 'false')
    .transform((value) => value === 'true' || value === 'True' || value === '1');

/** Every 15 minutes: pending free pipeline grant requests are reviewed. */
export const DEFAULT_GRANT_REVIEW_SCHEDULE = '0 */15 * * * *';
const DEFAULT_GRANT_ALLOWED_HOSTS = 'github.com,gitlab.com,bitbucket.org,dev.azure.com,codeberg.org,git.sr.ht';
const DEFAULT_GRANT_MINING_TERMS = [
  'miner', 'miners', 'xmrig', 'nicehash', 'monero', 'hashrate', 'cryptominer', 'cpuminer', 'cgminer', 'bfgminer',
  'ethminer', 'nbminer', 'lolminer', 'phoenixminer', 'nanominer', 'minergate', 'coinhive', 'cryptonight', 'stratum+tcp',
].join(',');

/** The public npm registry: the location of every feed's public npm upstream source. */
export const DEFAULT_NPM_UPSTREAM_URL = 'https://registry.npmjs.org/';

const count = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);
/** A comma-separated, lower-cased list whose items match `item`. */
const csvList = (fallback: string, item: RegExp, what: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) => [...new Set(value.split(',').map((part) => part.trim().toLowerCase()).filter(Boolean))])
    .pipe(z.array(z.string().regex(item, `each entry must be ${what}`)).min(1, 'at least one entry is required'));

/** Host names or IP literals, comma-separated, lower-cased, IPv6 without brackets. */
const hostList = z
  .string()
  .default('')
  .transform((value) => [...new Set(value.split(',').map((part) => part.trim().toLowerCase().replace(/^\[|\]$/g, '')).filter(Boolean))])
  .pipe(z.array(z.string().regex(/^[a-z0-9.:-]{1,253}$/, 'each entry must be a host name or an IP address')));

/** IP addresses or CIDR ranges, comma-separated. */
const addressList = z
  .string()
  .default('')
  .transform((value, ctx) => {
    const ranges: { network: string; prefix: number; family: 4 | 6 }[] = [];
    for (const item of value.split(',').map((part) => part.trim()).filter(Boolean)) {
      const [network = '', prefixText] = item.split('/');
      const family = isIP(network);
      const max = family === 6 ? 128 : 32;
      const prefix = prefixText === undefined ? max : Number(prefixText);
      if (family === 0 || !Number.isInteger(prefix) || prefix < 0 || prefix > max || (prefixText !== undefined && !/^\d{1,3}$/.test(prefixText))) {
        ctx.addIssue({ code: 'custom', message: `'${item.slice(0, 60)}' is not an IP address or CIDR range` });
        return z.NEVER;
      }
      ranges.push({ network, prefix, family: family as 4 | 6 });
    }
    return ranges;
  });

const settingsSchema = z
  .object({
    STORAGE: z.string().min(1).optional(),
    STORAGE__tableServiceUri: z.string().url().optional(),
    STORAGE__queueServiceUri: z.string().url().optional(),
    STORAGE__blobServiceUri: z.string().url().optional(),
    STORAGE__credential: z.literal('managedidentity').optional(),
    STORAGE__clientId: z.string().uuid().optional(),
    AZURE_CLIENT_ID: z.string().uuid().optional(),

    AUTH_ISSUER: z.string().url(),
    AUTH_AUDIENCE: z.string().min(1),
    AUTH_JWKS_URI: httpsOrLocalUrl.optional(),
    AUTH_JWKS: jwks.optional(),
    AUTH_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(300).default(60),

    TOKEN_PEPPERS: pepperList,

    // Empty (the deployment's default) means unset.
    PORTAL_CLIENT_ID: z.union([z.literal(''), z.string().uuid()]).optional().transform((value) => value || undefined),
    PORTAL_AUTHORITY: z.string().url().refine((value) => new URL(value).protocol === 'https:', 'must be an https URL').optional(),

    MAX_REQUEST_BODY_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(1024 * 1024),
    RATE_LIMIT_WRITES_PER_MINUTE: count(0, 1_000_000, 600),
    DIRECTORY_CACHE_SECONDS: count(0, 60, 10),
    RATE_LIMIT_ANONYMOUS_PER_MINUTE: count(0, 1_000_000, 300),
    RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: count(0, 1_000_000, 30),
    RATE_LIMIT_AUTH_FAILURES_PER_TOKEN_PER_MINUTE: count(0, 1_000_000, 10),
    RATE_LIMIT_ORGANIZATIONS_PER_HOUR: count(0, 1_000_000, 5),
    RATE_LIMIT_ORGANIZATIONS_PER_TENANT_PER_HOUR: count(0, 1_000_000, 100),
    RATE_LIMIT_FEEDS_PER_HOUR: count(0, 1_000_000, 30),
    RATE_LIMIT_GRANT_REQUESTS_PER_DAY: count(0, 1_000_000, 3),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    PORT: z.coerce.number().int().min(0).max(65535).default(7071),
    AUDIT_DELIVERY_DELAY_SECONDS: count(0, 60, 1),
    TOKEN_POLICY_CACHE_SECONDS: count(0, 60, 10),
    CHANGE_FEED_POLL_MS: count(0, 5000, 500),
    APPLICATIONINSIGHTS_CONNECTION_STRING: z.string().min(1).optional(),
    OTEL_EXPORTER_OTLP_ENDPOINT: z.string().url().optional(),
    TELEMETRY_CONSOLE: booleanSetting(false),

    GRANT_REVIEW_SCHEDULE: ncrontab.default(DEFAULT_GRANT_REVIEW_SCHEDULE),
    GRANT_REVIEW_BATCH_SIZE: count(1, 500, 50),
    GRANT_PUBLIC_PARALLEL_JOBS: count(1, 1000, 10),
    GRANT_PUBLIC_MAX_MINUTES_PER_JOB: count(1, 10080, 360),
    PIPELINES_PRIVATE_PARALLEL_JOBS: count(0, 1000, 1),
    PIPELINES_PRIVATE_MAX_MINUTES_PER_JOB: count(1, 10080, 60),
    PIPELINES_PRIVATE_MONTHLY_MINUTES: count(0, 1_000_000, 1800),
    GRANT_ALLOWED_HOSTS: csvList(DEFAULT_GRANT_ALLOWED_HOSTS, /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/, 'a DNS host name'),
    GRANT_MINING_TERMS: csvList(DEFAULT_GRANT_MINING_TERMS, /^[a-z0-9][a-z0-9+.-]{2,39}$/, '3-40 letters, digits or + . -'),
    GRANT_MIN_ORGANIZATION_AGE_DAYS: count(0, 3650, 7),
    GRANT_MAX_REQUESTS_PER_EMAIL: count(1, 1000, 3),
    GRANT_REQUEST_WINDOW_DAYS: count(1, 3650, 30),

    AUDIT_RETENTION_SCHEDULE: ncrontab.default(DEFAULT_AUDIT_RETENTION_SCHEDULE),
    AUDIT_RETENTION_DAYS: count(30, 3650, 90),
    AUDIT_RETENTION_MAX_PAGES: count(1, 10_000, 50),

    NPM_UPSTREAM_URL: httpsOrLocalUrl.default(DEFAULT_NPM_UPSTREAM_URL),
    NPM_UPSTREAM_TIMEOUT_MS: count(100, 300_000, 15_000),
    NPM_MAX_TARBALL_BYTES: count(1024, 1024 * 1024 * 1024, 50 * 1024 * 1024),
    NPM_MAX_FEEDS_PER_REQUEST: count(1, 1000, 25),
    NPM_MAX_UPSTREAM_CALLS_PER_REQUEST: count(1, 1000, 10),
    NPM_MAX_UPSTREAM_GRAPH_FEEDS: count(0, 1000, 0),
    NPM_MAX_PUBLISH_BYTES: z.coerce.number().int().min(64 * 1024).max(2 * 1024 * 1024 * 1024).optional(),
    NPM_MAX_PACKUMENT_BYTES: count(64 * 1024, 1024 * 1024 * 1024, 64 * 1024 * 1024),

    PAT_AUTH_CACHE_SECONDS: count(0, 30, 10),
    PAT_AUTH_CACHE_MAX_ENTRIES: count(1, 1_000_000, 10_000),
    PAT_LAST_USED_WRITE_SECONDS: count(1, 3600, 60),
    LEAK_REPORTS_PER_MINUTE: count(1, 100_000, 10),

    LIFECYCLE_SCHEDULE: ncrontab.default(DEFAULT_LIFECYCLE_SCHEDULE),
    LIFECYCLE_MAX_ITEMS_PER_RUN: count(1, 100_000, 5000),
    ALLOW_HTTP_WEBHOOKS_FOR_LOCALHOST: booleanSetting(false),
    NOTIFICATION_WEBHOOK_TIMEOUT_MS: count(100, 60_000, 10_000),
    NOTIFICATION_WEBHOOK_ATTEMPTS: count(1, 5, 3),
    NOTIFICATION_WEBHOOK_RETRY_DELAY_MS: count(0, 30_000, 1000),
    NOTIFICATION_WEBHOOK_MAX_HOLD_MS: count(100, 300_000, 15_000),
    NOTIFICATION_WEBHOOK_LANE_CONCURRENCY: count(1, 100, 2),
    NOTIFICATION_WEBHOOK_BREAKER_FAILURES: count(1, 100, 3),
    NOTIFICATION_WEBHOOK_BREAKER_OPEN_SECONDS: count(1, 3600, 60),
    NOTIFICATION_WEBHOOK_MAX_AGE_HOURS: count(1, 168, 24),
    OUTBOUND_ALLOWED_PRIVATE_HOSTS: hostList,
    TRUSTED_PROXIES: addressList,
  });

/** Settings that are required in one of several forms; checked even when other settings are invalid. */
function alternativeProblems(env: Env): string[] {
  const problems: string[] = [];
  if (!env.STORAGE && !(env.STORAGE__tableServiceUri && env.STORAGE__queueServiceUri)) {
    problems.push(
      'STORAGE: set STORAGE (a connection string) or STORAGE__tableServiceUri, STORAGE__queueServiceUri and STORAGE__blobServiceUri',
    );
  }
  if (!env.AUTH_JWKS_URI && !env.AUTH_JWKS) problems.push('AUTH_JWKS_URI: set AUTH_JWKS_URI (or AUTH_JWKS locally)');
  if (env.WEBSITE_INSTANCE_ID && env.OUTBOUND_ALLOWED_PRIVATE_HOSTS?.trim()) {
    problems.push('OUTBOUND_ALLOWED_PRIVATE_HOSTS: allowed for local development only; remove it from the Azure app settings');
  }
  return problems;
}

export type StorageConfig =
  | { kind: 'connectionString'; connectionString: string }
  | {
      kind: 'identity';
      tableServiceUri: string;
      queueServiceUri: string;
      blobServiceUri: string | undefined;
      managedIdentityClientId: string | undefined;
    };

export interface AppConfig {
  readonly storage: StorageConfig;
  readonly auth: {
    readonly issuer: string;
    readonly audience: string;
    readonly jwksUri: string | undefined;
    readonly jwks: { keys: Record<string, unknown>[] } | undefined;
    readonly clockSkewSeconds: number;
  };
  readonly peppers: readonly { version: string; secret: Buffer }[];
  /** The web portal's Microsoft Entra ID sign-in (see shared/portal/config.ts); unset locally. */
  readonly portal: { readonly clientId: string | undefined; readonly authority: string | undefined };
  readonly maxRequestBodyBytes: number;
  /** How long organizations and memberships read on the request path are reused (0 disables). */
  readonly directoryCacheSeconds: number;
  /** Per-caller request budgets (per instance; 0 disables): write methods per caller, any request per anonymous client IP. */
  readonly rateLimits: {
    readonly writesPerMinute: number;
    readonly anonymousPerMinute: number;
    /** Failed authentications (401) a client address may make per minute before every attempt is a 429. */
    readonly authFailuresPerMinutePerAddress: number;
    /** The same per token id (the authorization id a PAT names). */
    readonly authFailuresPerMinutePerToken: number;
    /** Organizations one identity may create per hour (0: no limit). */
    readonly organizationsPerHour: number;
    /** Organizations the users of one tenant may create per hour, together. */
    readonly organizationsPerTenantPerHour: number;
    /** Feeds one identity may create per hour. */
    readonly feedsPerHour: number;
    /** Free pipeline grant requests one identity may submit per day. */
    readonly grantRequestsPerDay: number;
  };
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly port: number;
  /** How long a queued audit event stays invisible, time for its change to commit (see audit/outbox.ts). */
  readonly auditDeliveryDelaySeconds: number;
  /** How long an organization's token policies read on the request path are reused (0 disables). */
  readonly tokenPolicyCacheSeconds: number;
  /** How often each instance reads the change feed that keeps its caches coherent (0: off). */
  readonly changeFeedPollMs: number;
  readonly telemetry: TelemetrySettings;
  readonly pipelines: PipelineGrantSettings;
  readonly audit: AuditSettings;
  readonly packaging: PackagingSettings;
  readonly patAuth: PatAuthSettings;
  readonly lifecycle: LifecycleSettings;
  readonly outbound: OutboundSettings;
  /**
   * Proxies in front of the platform's front end whose X-Forwarded-For entries are believed (see
   * shared/http/client-address.ts); empty means only the front end's own entry counts.
   */
  readonly trustedProxies: readonly { network: string; prefix: number; family: 4 | 6 }[];
}

/** Outbound HTTP (shared/http/outbound.ts). */
export interface OutboundSettings {
  /** Hosts that may resolve to loopback or private addresses (local development only; refused on Azure). */
  readonly allowedPrivateHosts: readonly string[];
}

/**
 * OpenTelemetry traces and metrics: to Application Insights (with the managed identity) when its
 * connection string is set, else to an OTLP endpoint, else to the console when asked; otherwise off.
 */
export interface TelemetrySettings {
  readonly exporter: 'off' | 'azureMonitor' | 'otlp' | 'console';
  readonly applicationInsightsConnectionString: string | undefined;
  readonly otlpEndpoint: string | undefined;
  readonly managedIdentityClientId: string | undefined;
}

/** The lifecycle timer (expiry sweep and reminder ladder) and notification delivery. */
export interface LifecycleSettings {
  /** NCRONTAB schedule of the `lifecycle` timer (`%LIFECYCLE_SCHEDULE%`). */
  readonly schedule: string;
  /** Index entries one run processes at most (expiries and reminders); the next run resumes. */
  readonly maxItemsPerRun: number;
  /** Allows http:// webhook URLs on localhost, 127.0.0.1 and [::1] (local development only). */
  readonly allowHttpWebhooksForLocalhost: boolean;
  readonly webhookTimeoutMs: number;
  /** POST attempts per delivery inside one invocation, before the host's own retries. */
  readonly webhookAttempts: number;
  /** First back-off between those attempts (doubled each time). */
  readonly webhookRetryDelayMs: number;
  /** How long one delivery invocation may hold a worker, all its attempts together. */
  readonly webhookMaxHoldMs: number;
  /** Deliveries of one organization running at once in an instance (its lane; see shared/notifications/lanes.ts). */
  readonly webhookLaneConcurrency: number;
  /** Consecutive failed deliveries that open an endpoint's circuit breaker. */
  readonly webhookBreakerFailures: number;
  /** How long an open breaker pauses the endpoint before a trial delivery. */
  readonly webhookBreakerOpenSeconds: number;
  /** A notice not delivered to the webhook within this long after it was made is given up (poison queue). */
  readonly webhookMaxAgeHours: number;
}

/** Using PATs: the authentication cache and the leak report rate limit. */
export interface PatAuthSettings {
  /** Positive authentication results are reused for this long (0 disables the cache; at most 30 s). */
  readonly cacheSeconds: number;
  /** The cache holds at most this many tokens (the oldest entries are dropped first). */
  readonly cacheMaxEntries: number;
  /**
   * A token's last-used time is written at most once per this many seconds (per token and
   * organization): the most an instance that dies can leave its stored time behind the real one.
   */
  readonly lastUsedWriteSeconds: number;
  /** Leak reports accepted per client IP per minute (token bucket, burst of the same size). */
  readonly leakReportsPerMinute: number;
}

/** Package feeds (npm). */
export interface PackagingSettings {
  /** The public npm registry feeds upstream to (ends with '/'). */
  readonly npmUpstreamUrl: string;
  /** How long a request to an upstream registry may take before it counts as failed. */
  readonly upstreamTimeoutMs: number;
  /** The largest package tarball accepted (published or saved from an upstream). */
  readonly maxTarballBytes: number;
  /**
   * The request body limit of `npm publish` (`NPM_MAX_PUBLISH_BYTES`; by default room for the largest
   * tarball in base64 plus 1 MiB of manifest). A publish must declare its Content-Length; one above
   * this is a 413 before any of it is read.
   */
  readonly maxPublishBytes: number;
  /** Distinct feeds one package request may resolve through upstream sources (else 508 upstreamLimitExceeded). */
  readonly maxFeedsPerRequest: number;
  /** Calls to the public registry one package request may make (else 508 upstreamLimitExceeded). */
  readonly maxUpstreamCallsPerRequest: number;
  /**
   * When above 0, a feed's upstream sources are refused (400 upstreamGraphTooLarge) when the feeds
   * they reach, directly or not, are more than this (`NPM_MAX_UPSTREAM_GRAPH_FEEDS`).
   */
  readonly maxUpstreamGraphFeeds: number;
  /** The largest package document (packument) read from an upstream registry. */
  readonly maxUpstreamPackumentBytes: number;
}

/** The audit log: retention purge timer and defaults. */
export interface AuditSettings {
  /** NCRONTAB schedule of the retention timer (`%AUDIT_RETENTION_SCHEDULE%`). */
  readonly retentionSchedule: string;
  /** Retention of organizations that did not set their own. */
  readonly defaultRetentionDays: number;
  /** Table requests (pages of at most 100 deletions) one retention run may spend; the next run resumes. */
  readonly retentionMaxPagesPerRun: number;
}

/** Free pipeline grants: the review timer, its rule thresholds and the capacity organizations get. */
export interface PipelineGrantSettings {
  /** NCRONTAB schedule of the grant review timer (`%GRANT_REVIEW_SCHEDULE%`). */
  readonly reviewSchedule: string;
  /** Pending requests reviewed per timer run (oldest first). */
  readonly reviewBatchSize: number;
  /** What an approved grant gives public projects (no monthly cap). */
  readonly publicGrant: { readonly parallelJobs: number; readonly maxMinutesPerJob: number };
  /** What every organization's private projects get without a request. */
  readonly privateDefault: { readonly parallelJobs: number; readonly maxMinutesPerJob: number; readonly monthlyMinutes: number };
  /** Repository hosts a request may name; others are rejected by the review. */
  readonly allowedHosts: readonly string[];
  /** Words that mark crypto-mining (matched as whole words); any match rejects. */
  readonly miningTerms: readonly string[];
  /** Organizations younger than this go to manual review. */
  readonly minOrganizationAgeDays: number;
  /** This many requests from one email within the window send a request to manual review. */
  readonly maxRequestsPerEmail: number;
  readonly requestWindowDays: number;
}

/** Settings an Azure deployment must provide (one of each alternative group). */
export const REQUIRED_APP_SETTINGS = [
  'STORAGE__tableServiceUri',
  'STORAGE__queueServiceUri',
  'STORAGE__blobServiceUri',
  'STORAGE__credential',
  'STORAGE__clientId',
  'AUTH_ISSUER',
  'AUTH_AUDIENCE',
  'AUTH_JWKS_URI',
  'TOKEN_PEPPERS',
] as const;

export class ConfigurationError extends Error {
  constructor(readonly problems: string[]) {
    super(`Invalid configuration:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
    this.name = 'ConfigurationError';
  }
}

type Env = Record<string, string | undefined>;

/** Settings that may instead be given as `<NAME>_FILE`, a path to read the value from. */
const FILE_SETTINGS = ['TOKEN_PEPPERS', 'AUTH_JWKS'] as const;

function resolveFileSettings(env: Env, problems: string[]): Env {
  const resolved: Env = { ...env };
  for (const target of FILE_SETTINGS) {
    const name = `${target}_FILE`;
    const path = env[name];
    if (!path || resolved[target]) continue;
    try {
      resolved[target] = readFileSync(path, 'utf8').trim();
    } catch {
      problems.push(`${name}: cannot read file ${path}`);
    }
  }
  return resolved;
}

export function loadConfig(env: Env): AppConfig {
  const problems: string[] = [];
  const resolved = resolveFileSettings(env, problems);
  const parsed = settingsSchema.safeParse(resolved);
  problems.push(...alternativeProblems(resolved));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path.join('.') || 'settings';
      const message = issue.code === 'invalid_type' && resolved[name] === undefined ? 'is required' : issue.message;
      problems.push(`${name}: ${message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigurationError(problems);
  const s = parsed.data;
  const storage: StorageConfig = s.STORAGE
    ? { kind: 'connectionString', connectionString: s.STORAGE }
    : {
        kind: 'identity',
        tableServiceUri: s.STORAGE__tableServiceUri ?? '',
        queueServiceUri: s.STORAGE__queueServiceUri ?? '',
        blobServiceUri: s.STORAGE__blobServiceUri,
        managedIdentityClientId: s.STORAGE__clientId ?? s.AZURE_CLIENT_ID,
      };
  return Object.freeze({
    storage,
    auth: {
      issuer: s.AUTH_ISSUER,
      audience: s.AUTH_AUDIENCE,
      jwksUri: s.AUTH_JWKS_URI,
      jwks: s.AUTH_JWKS,
      clockSkewSeconds: s.AUTH_CLOCK_SKEW_SECONDS,
    },
    peppers: s.TOKEN_PEPPERS,
    portal: { clientId: s.PORTAL_CLIENT_ID, authority: s.PORTAL_AUTHORITY },
    maxRequestBodyBytes: s.MAX_REQUEST_BODY_BYTES,
    directoryCacheSeconds: s.DIRECTORY_CACHE_SECONDS,
    rateLimits: {
      writesPerMinute: s.RATE_LIMIT_WRITES_PER_MINUTE,
      anonymousPerMinute: s.RATE_LIMIT_ANONYMOUS_PER_MINUTE,
      authFailuresPerMinutePerAddress: s.RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS_PER_MINUTE,
      authFailuresPerMinutePerToken: s.RATE_LIMIT_AUTH_FAILURES_PER_TOKEN_PER_MINUTE,
      organizationsPerHour: s.RATE_LIMIT_ORGANIZATIONS_PER_HOUR,
      organizationsPerTenantPerHour: s.RATE_LIMIT_ORGANIZATIONS_PER_TENANT_PER_HOUR,
      feedsPerHour: s.RATE_LIMIT_FEEDS_PER_HOUR,
      grantRequestsPerDay: s.RATE_LIMIT_GRANT_REQUESTS_PER_DAY,
    },
    logLevel: s.LOG_LEVEL,
    port: s.PORT,
    auditDeliveryDelaySeconds: s.AUDIT_DELIVERY_DELAY_SECONDS,
    tokenPolicyCacheSeconds: s.TOKEN_POLICY_CACHE_SECONDS,
    changeFeedPollMs: s.CHANGE_FEED_POLL_MS,
    telemetry: {
      exporter: (s.APPLICATIONINSIGHTS_CONNECTION_STRING ? 'azureMonitor' : s.OTEL_EXPORTER_OTLP_ENDPOINT ? 'otlp' : s.TELEMETRY_CONSOLE ? 'console' : 'off') as TelemetrySettings['exporter'],
      applicationInsightsConnectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
      otlpEndpoint: s.OTEL_EXPORTER_OTLP_ENDPOINT,
      managedIdentityClientId: s.AZURE_CLIENT_ID,
    },
    pipelines: {
      reviewSchedule: s.GRANT_REVIEW_SCHEDULE,
      reviewBatchSize: s.GRANT_REVIEW_BATCH_SIZE,
      publicGrant: { parallelJobs: s.GRANT_PUBLIC_PARALLEL_JOBS, maxMinutesPerJob: s.GRANT_PUBLIC_MAX_MINUTES_PER_JOB },
      privateDefault: {
        parallelJobs: s.PIPELINES_PRIVATE_PARALLEL_JOBS,
        maxMinutesPerJob: s.PIPELINES_PRIVATE_MAX_MINUTES_PER_JOB,
        monthlyMinutes: s.PIPELINES_PRIVATE_MONTHLY_MINUTES,
      },
      allowedHosts: s.GRANT_ALLOWED_HOSTS,
      miningTerms: s.GRANT_MINING_TERMS,
      minOrganizationAgeDays: s.GRANT_MIN_ORGANIZATION_AGE_DAYS,
      maxRequestsPerEmail: s.GRANT_MAX_REQUESTS_PER_EMAIL,
      requestWindowDays: s.GRANT_REQUEST_WINDOW_DAYS,
    },
    audit: {
      retentionSchedule: s.AUDIT_RETENTION_SCHEDULE,
      defaultRetentionDays: s.AUDIT_RETENTION_DAYS,
      retentionMaxPagesPerRun: s.AUDIT_RETENTION_MAX_PAGES,
    },
    packaging: {
      npmUpstreamUrl: s.NPM_UPSTREAM_URL.endsWith('/') ? s.NPM_UPSTREAM_URL : `${s.NPM_UPSTREAM_URL}/`,
      upstreamTimeoutMs: s.NPM_UPSTREAM_TIMEOUT_MS,
      maxTarballBytes: s.NPM_MAX_TARBALL_BYTES,
      maxFeedsPerRequest: s.NPM_MAX_FEEDS_PER_REQUEST,
      maxUpstreamCallsPerRequest: s.NPM_MAX_UPSTREAM_CALLS_PER_REQUEST,
      maxUpstreamGraphFeeds: s.NPM_MAX_UPSTREAM_GRAPH_FEEDS,
      maxPublishBytes: s.NPM_MAX_PUBLISH_BYTES ?? Math.ceil((s.NPM_MAX_TARBALL_BYTES * 4) / 3) + 1024 * 1024,
      maxUpstreamPackumentBytes: s.NPM_MAX_PACKUMENT_BYTES,
    },
    patAuth: {
      cacheSeconds: s.PAT_AUTH_CACHE_SECONDS,
      cacheMaxEntries: s.PAT_AUTH_CACHE_MAX_ENTRIES,
      lastUsedWriteSeconds: s.PAT_LAST_USED_WRITE_SECONDS,
      leakReportsPerMinute: s.LEAK_REPORTS_PER_MINUTE,
    },
    lifecycle: {
      schedule: s.LIFECYCLE_SCHEDULE,
      maxItemsPerRun: s.LIFECYCLE_MAX_ITEMS_PER_RUN,
      allowHttpWebhooksForLocalhost: s.ALLOW_HTTP_WEBHOOKS_FOR_LOCALHOST,
      webhookTimeoutMs: s.NOTIFICATION_WEBHOOK_TIMEOUT_MS,
      webhookAttempts: s.NOTIFICATION_WEBHOOK_ATTEMPTS,
      webhookRetryDelayMs: s.NOTIFICATION_WEBHOOK_RETRY_DELAY_MS,
      webhookMaxHoldMs: s.NOTIFICATION_WEBHOOK_MAX_HOLD_MS,
      webhookLaneConcurrency: s.NOTIFICATION_WEBHOOK_LANE_CONCURRENCY,
      webhookBreakerFailures: s.NOTIFICATION_WEBHOOK_BREAKER_FAILURES,
      webhookBreakerOpenSeconds: s.NOTIFICATION_WEBHOOK_BREAKER_OPEN_SECONDS,
      webhookMaxAgeHours: s.NOTIFICATION_WEBHOOK_MAX_AGE_HOURS,
    },
    outbound: { allowedPrivateHosts: s.OUTBOUND_ALLOWED_PRIVATE_HOSTS },
    trustedProxies: s.TRUSTED_PROXIES,
  });
}

let cached: AppConfig | undefined;

/** The process configuration, validated on first use (never at import time). */
export function getConfig(): AppConfig {
  cached ??= loadConfig(process.env);
  return cached;
}
