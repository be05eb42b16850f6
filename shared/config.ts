import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import { z } from 'zod';
import { parseNcrontab } from './runtime/ncrontab.js';

/**
 * The one place that reads app settings. Everything else receives a validated AppConfig, whose type
 * is the schema's output. Each setting is declared once, with its description, below; the
 * configuration reference (docs/configuration.md) is generated from these declarations.
 * Settings named `X_FILE` are read from a file (local development keeps generated secrets in
 * `.local/`); in Azure the plain setting is used, typically as a Key Vault reference.
 */

export const STORAGE_CONNECTION = 'STORAGE';

const httpsOrLocalUrl = z.url().refine((value) => {
  const url = new URL(value);
  return url.protocol === 'https:' || ['localhost', '127.0.0.1', '[::1]'].includes(url.hostname);
}, 'must be an https URL (http is allowed only for localhost)');

const pepperList = z
  .string()
  .min(1)
  .transform((value, ctx) => {
    const peppers: { version: string; secret: Buffer }[] = [];
    for (const item of value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)) {
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
  'miner',
  'miners',
  'xmrig',
  'nicehash',
  'monero',
  'hashrate',
  'cryptominer',
  'cpuminer',
  'cgminer',
  'bfgminer',
  'ethminer',
  'nbminer',
  'lolminer',
  'phoenixminer',
  'nanominer',
  'minergate',
  'coinhive',
  'cryptonight',
  'stratum+tcp',
].join(',');

/** The public npm registry: the location of every feed's public npm upstream source. */
export const DEFAULT_NPM_UPSTREAM_URL = 'https://registry.npmjs.org/';

const count = (min: number, max: number, fallback: number) => z.coerce.number().int().min(min).max(max).default(fallback);
/** A comma-separated, lower-cased list whose items match `item`. */
const csvList = (fallback: string, item: RegExp, what: string) =>
  z
    .string()
    .default(fallback)
    .transform((value) => [
      ...new Set(
        value
          .split(',')
          .map((part) => part.trim().toLowerCase())
          .filter(Boolean),
      ),
    ])
    .pipe(z.array(z.string().regex(item, `each entry must be ${what}`)).min(1, 'at least one entry is required'));

/** Host names or IP literals, comma-separated, lower-cased, IPv6 without brackets. */
const hostList = z
  .string()
  .default('')
  .transform((value) => [
    ...new Set(
      value
        .split(',')
        .map((part) =>
          part
            .trim()
            .toLowerCase()
            .replace(/^\[|\]$/g, ''),
        )
        .filter(Boolean),
    ),
  ])
  .pipe(z.array(z.string().regex(/^[a-z0-9.:-]{1,253}$/, 'each entry must be a host name or an IP address')));

/** IP addresses or CIDR ranges, comma-separated. */
const addressList = z
  .string()
  .default('')
  .transform((value, ctx) => {
    const ranges: { network: string; prefix: number; family: 4 | 6 }[] = [];
    for (const item of value
      .split(',')
      .map((part) => part.trim())
      .filter(Boolean)) {
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

/**
 * The settings, by topic, in the order the configuration reference (docs/configuration.md, generated
 * by `npm run docs`) lists them. Each carries its description; `requirement` in a setting's meta says
 * when a setting without a default is needed in one of several forms.
 */
const storageSettings = {
  STORAGE: z.string().min(1).optional().meta({
    requirement: 'this or the `STORAGE__` settings',
    description:
      "Connection string of the storage account holding the app's tables, queues and blobs (Azurite locally). The queue triggers use the same connection name.",
  }),
  STORAGE__tableServiceUri: z.url().optional().meta({
    requirement: 'unless `STORAGE` is set',
    description: 'Table service endpoint of the identity-based connection (managed identity through `DefaultAzureCredential`).',
  }),
  STORAGE__queueServiceUri: z
    .url()
    .optional()
    .meta({ requirement: 'unless `STORAGE` is set', description: 'Queue service endpoint of the identity-based connection.' }),
  STORAGE__blobServiceUri: z.url().optional().meta({
    requirement: 'unless `STORAGE` is set',
    description: 'Blob service endpoint of the identity-based connection (large audit payloads, npm tarballs, timer leases).',
  }),
  STORAGE__credential: z
    .literal('managedidentity')
    .optional()
    .describe('`managedidentity` for the identity-based connection (read by the Functions host for the queue triggers).'),
  STORAGE__clientId: z
    .uuid()
    .optional()
    .describe('Client ID of the user-assigned managed identity the identity-based connection uses (else `AZURE_CLIENT_ID`).'),
  AZURE_CLIENT_ID: z
    .uuid()
    .optional()
    .describe(
      "Client ID of the app's user-assigned managed identity (the templates set it). Used for storage when `STORAGE__clientId` is unset, and to authenticate telemetry to Application Insights; the Azure SDK's credential reads it too.",
    ),
};

const authenticationSettings = {
  AUTH_ISSUER: z.url().describe('Expected `iss` of caller tokens, e.g. `https://login.microsoftonline.com/<tenant-id>/v2.0`.'),
  AUTH_AUDIENCE: z.string().min(1).describe("Expected `aud` of caller tokens: the API app registration's client ID (v2.0 tokens)."),
  AUTH_JWKS_URI: httpsOrLocalUrl.optional().meta({
    requirement: 'in Azure (locally `AUTH_JWKS` may replace it)',
    description: 'Where the signing keys of caller tokens are fetched (through the guarded outbound client).',
  }),
  AUTH_JWKS: jwks.optional().describe('The signing keys as a JSON Web Key Set, instead of `AUTH_JWKS_URI` (local development and tests).'),
  AUTH_CLOCK_SKEW_SECONDS: z.coerce.number().int().min(0).max(300).default(60).describe('Clock skew tolerated when checking token lifetimes.'),
};

const secretSettings = {
  TOKEN_PEPPERS: pepperList.describe(
    'Versioned server secrets that PATs are hashed under (and other keys derived from): `<version>:<base64 of at least 32 bytes>[,…]`, versions of 1–8 letters or digits, each once; the first is current. A Key Vault reference in Azure; generated into `.local/peppers` locally.',
  ),
};

const portalSettings = {
  // Empty (the deployment's default) means unset.
  PORTAL_CLIENT_ID: z
    .union([z.literal(''), z.uuid()])
    .optional()
    .transform((value) => value || undefined)
    .describe("Client ID of the portal's single-page app registration; empty or unset (and outside development), the portal offers no sign-in."),
  PORTAL_AUTHORITY: z
    .url()
    .refine((value) => new URL(value).protocol === 'https:', 'must be an https URL')
    .optional()
    .describe('The https authority the portal signs in with; unset, `AUTH_ISSUER` without `/v2.0`.'),
};

const requestSettings = {
  MAX_REQUEST_BODY_BYTES: z.coerce
    .number()
    .int()
    .min(1024)
    .max(100 * 1024 * 1024)
    .default(1024 * 1024)
    .describe('Largest request body (1 MiB by default); a larger one is `413 requestBodyTooLarge`. `npm publish` has its own limit.'),
  RATE_LIMIT_WRITES_PER_MINUTE: count(0, 1_000_000, 600).describe(
    'Write requests (POST, PUT, PATCH, DELETE) per caller per minute per instance; beyond it `429 rateLimited` with `Retry-After` (0 disables).',
  ),
  RATE_LIMIT_ANONYMOUS_PER_MINUTE: count(0, 1_000_000, 300).describe('Anonymous requests per client IP per minute per instance (0 disables).'),
  RATE_LIMIT_AUTH_FAILURES_PER_ADDRESS_PER_MINUTE: count(0, 1_000_000, 30).describe(
    'Failed authentications (401) per client address per minute per instance. Once spent, every attempt from that address is `429 rateLimited` with `Retry-After` before any credential is looked at, good ones included, so the answer tells nothing about the credential (0 disables).',
  ),
  RATE_LIMIT_AUTH_FAILURES_PER_TOKEN_PER_MINUTE: count(0, 1_000_000, 10).describe(
    'The same per token id: the authorization id a PAT names, whether or not it exists (0 disables).',
  ),
  RATE_LIMIT_ORGANIZATIONS_PER_HOUR: count(0, 1_000_000, 5).describe(
    "Organizations one identity may create per hour per instance (0: no limit), after the tenant's `restrictOrganizationCreation` policy, whose `maxPerUserPerHour`, when set, is a further per-user limit; beyond it `429 creationRateLimited`.",
  ),
  RATE_LIMIT_ORGANIZATIONS_PER_TENANT_PER_HOUR: count(0, 1_000_000, 100).describe(
    'Organizations the users of one tenant may create per hour per instance, together.',
  ),
  RATE_LIMIT_FEEDS_PER_HOUR: count(0, 1_000_000, 30).describe('Feeds one identity may create per hour per instance.'),
  RATE_LIMIT_GRANT_REQUESTS_PER_DAY: count(0, 1_000_000, 3).describe('Free pipeline grant requests one identity may submit per day per instance.'),
  LEAK_REPORTS_PER_MINUTE: count(1, 100_000, 10).describe(
    'Leak reports accepted per client IP per minute (in-process token bucket with a burst of the same size); beyond it `429 leakReportRateLimited`.',
  ),
  TRUSTED_PROXIES: addressList.describe(
    "IPs or CIDR ranges of proxies in front of the platform's front end (Front Door, an Application Gateway subnet) whose `X-Forwarded-For` entries are believed; empty, only the front end's own entry counts (see shared/http/client-address.ts).",
  ),
};

const cacheSettings = {
  DIRECTORY_CACHE_SECONDS: count(0, 60, 10).describe(
    "How long organizations and memberships read on the request path are reused (0 disables). An instance's own changes apply at once, another instance's (such as removing a member) through the change feed.",
  ),
  TOKEN_POLICY_CACHE_SECONDS: count(0, 60, 10).describe(
    "How long an organization's token policies and revocation rules are reused when enforced on a request (create, update, rotation, SSH keys, leak reports; 0 disables). An instance's own updates apply at once, another instance's through the change feed; reading or updating the policies always reads storage.",
  ),
  PAT_AUTH_CACHE_SECONDS: count(0, 30, 10).describe(
    "How long a positive PAT authentication is reused in-process (0 disables); another instance's revocation drops the entry through the change feed.",
  ),
  PAT_AUTH_CACHE_MAX_ENTRIES: count(1, 1_000_000, 10_000).describe(
    'Tokens the authentication cache holds per instance (the oldest entries are dropped first).',
  ),
  PAT_LAST_USED_WRITE_SECONDS: count(1, 3600, 60).describe(
    "A PAT's last-used time is written at most once per this many seconds per token and organization (a new client address is written at once): the most an instance that dies can leave the stored time behind, plus the refresh it was writing.",
  ),
  CHANGE_FEED_POLL_MS: count(0, 5000, 500).describe(
    "How often each instance reads the change feed that keeps its caches coherent with the other instances' (0 turns it off: single instance only).",
  ),
};

/** Azure Monitor's default: rate-limited sampling at 5 traces a second. */
export const DEFAULT_TRACES_PER_SECOND = 5;

const telemetrySettings = {
  LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info').describe('The lowest level of log lines written.'),
  APPLICATIONINSIGHTS_CONNECTION_STRING: z
    .string()
    .min(1)
    .optional()
    .describe('Sends traces and metrics to this Application Insights, authenticated with the managed identity `AZURE_CLIENT_ID` (the templates set it).'),
  OTEL_EXPORTER_OTLP_ENDPOINT: z
    .url()
    .optional()
    .describe('Sends traces and metrics over OTLP/HTTP to this endpoint (`/v1/traces`, `/v1/metrics`) when Application Insights is not configured.'),
  TELEMETRY_CONSOLE: booleanSetting(false).describe('Prints spans and metrics to the console when neither exporter is configured (local development).'),
  TELEMETRY_TRACES_PER_SECOND: z.coerce
    .number()
    .positive()
    .default(DEFAULT_TRACES_PER_SECOND)
    .describe(
      'Traces recorded per second and instance, at most (as the Azure Monitor distro samples by default): an HTTP request or timer run is recorded while the budget lasts, whatever sampled flag its caller sends, and the queue work it causes (audit writer, notification sender) follows its decision. Tracing every request costs about 75 µs of CPU per request; to trace everything anyway, set a large number (e.g. 1000000).',
    ),
};

const auditSettings = {
  AUDIT_DELIVERY_DELAY_SECONDS: count(0, 60, 1).describe(
    'How long a queued audit event stays invisible: time for its change to commit (see shared/audit/outbox.ts).',
  ),
  AUDIT_RETENTION_SCHEDULE: ncrontab.default(DEFAULT_AUDIT_RETENTION_SCHEDULE).meta({
    requirement: 'by the Functions host (`%AUDIT_RETENTION_SCHEDULE%`)',
    description: 'Six-field NCRONTAB (UTC) of the `audit-retention` timer; a malformed value stops start-up.',
  }),
  AUDIT_RETENTION_DAYS: count(30, 3650, 90).describe('Audit retention of organizations that did not set their own.'),
  AUDIT_RETENTION_MAX_PAGES: count(1, 10_000, 50).describe(
    'Deletion pages (at most 100 rows or blobs each) one retention run may spend before it stops; the next run resumes.',
  ),
};

const lifecycleSettings = {
  LIFECYCLE_SCHEDULE: ncrontab.default(DEFAULT_LIFECYCLE_SCHEDULE).meta({
    requirement: 'by the Functions host (`%LIFECYCLE_SCHEDULE%`)',
    description: 'Six-field NCRONTAB (UTC) of the `lifecycle` timer (expiry sweep and reminders); a malformed value stops start-up.',
  }),
  LIFECYCLE_MAX_ITEMS_PER_RUN: count(1, 100_000, 5000).describe('Index entries (expiries and reminders) one lifecycle run processes; the next run resumes.'),
  ALLOW_HTTP_WEBHOOKS_FOR_LOCALHOST: booleanSetting(false).describe(
    'Accepts `http://` notification webhooks on localhost, 127.0.0.1 and [::1] (local development only; `local.settings.json` sets it).',
  ),
  NOTIFICATION_WEBHOOK_TIMEOUT_MS: count(100, 60_000, 10_000).describe('How long one webhook POST may take.'),
  NOTIFICATION_WEBHOOK_ATTEMPTS: count(1, 5, 3).describe("POST attempts per delivery inside one invocation, before the host's own retries."),
  NOTIFICATION_WEBHOOK_RETRY_DELAY_MS: count(0, 30_000, 1000).describe('First back-off between those attempts (doubled each time).'),
  NOTIFICATION_WEBHOOK_MAX_HOLD_MS: count(100, 300_000, 15_000).describe('How long one delivery invocation may hold a worker, all its attempts together.'),
  NOTIFICATION_WEBHOOK_LANE_CONCURRENCY: count(1, 100, 2).describe(
    'Deliveries of one organization running at once in an instance (its lane; see shared/notifications/lanes.ts).',
  ),
  NOTIFICATION_WEBHOOK_BREAKER_FAILURES: count(1, 100, 3).describe("Consecutive failed deliveries that open an endpoint's circuit breaker."),
  NOTIFICATION_WEBHOOK_BREAKER_OPEN_SECONDS: count(1, 3600, 60).describe('How long an open breaker pauses the endpoint before a trial delivery.'),
  NOTIFICATION_WEBHOOK_MAX_AGE_HOURS: count(1, 168, 24).describe(
    'A notice not delivered to its webhook within this long after it was made is given up (`webhook-deliveries-poison`).',
  ),
};

const pipelineGrantSettings = {
  GRANT_REVIEW_SCHEDULE: ncrontab.default(DEFAULT_GRANT_REVIEW_SCHEDULE).meta({
    requirement: 'by the Functions host (`%GRANT_REVIEW_SCHEDULE%`)',
    description: 'Six-field NCRONTAB (UTC) of the `grant-review` timer; a malformed value stops start-up.',
  }),
  GRANT_REVIEW_BATCH_SIZE: count(1, 500, 50).describe('Pending requests reviewed per timer run (chosen fairly from the oldest).'),
  GRANT_PUBLIC_PARALLEL_JOBS: count(1, 1000, 10).describe('Parallel jobs an approved grant gives public projects (no monthly cap).'),
  GRANT_PUBLIC_MAX_MINUTES_PER_JOB: count(1, 10080, 360).describe('Minutes per job an approved grant gives public projects.'),
  PIPELINES_PRIVATE_PARALLEL_JOBS: count(0, 1000, 1).describe(
    "Free parallel jobs of every organization's private projects, without a request (new capacity records).",
  ),
  PIPELINES_PRIVATE_MAX_MINUTES_PER_JOB: count(1, 10080, 60).describe("Minutes per job of private projects' free capacity."),
  PIPELINES_PRIVATE_MONTHLY_MINUTES: count(0, 1_000_000, 1800).describe("Monthly minutes of private projects' free capacity."),
  GRANT_ALLOWED_HOSTS: csvList(
    DEFAULT_GRANT_ALLOWED_HOSTS,
    /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/,
    'a DNS host name',
  ).describe('Repository hosts a grant request may name, comma-separated; the review rejects others.'),
  GRANT_MINING_TERMS: csvList(DEFAULT_GRANT_MINING_TERMS, /^[a-z0-9][a-z0-9+.-]{2,39}$/, '3-40 letters, digits or + . -').describe(
    'Words that mark crypto-mining, comma-separated, matched as whole words; any match rejects a grant request.',
  ),
  GRANT_MIN_ORGANIZATION_AGE_DAYS: count(0, 3650, 7).describe('Organizations younger than this go to manual review.'),
  GRANT_MAX_REQUESTS_PER_EMAIL: count(1, 1000, 3).describe('This many requests from one requester email within the window send a request to manual review.'),
  GRANT_REQUEST_WINDOW_DAYS: count(1, 3650, 30).describe('The window of `GRANT_MAX_REQUESTS_PER_EMAIL`.'),
};

const packagingSettings = {
  NPM_UPSTREAM_URL: httpsOrLocalUrl
    .default(DEFAULT_NPM_UPSTREAM_URL)
    .describe("The public npm registry every feed's public upstream source reads (https, or http for localhost); a feed cannot name another."),
  NPM_UPSTREAM_TIMEOUT_MS: count(100, 300_000, 15_000).describe('How long a request to an upstream registry may take before it counts as failed.'),
  NPM_MAX_TARBALL_BYTES: count(1024, 1024 * 1024 * 1024, 50 * 1024 * 1024).describe(
    'The largest package tarball accepted, published or saved from an upstream (`413 packageTooLarge`).',
  ),
  NPM_MAX_PUBLISH_BYTES: z.coerce
    .number()
    .int()
    .min(64 * 1024)
    .max(2 * 1024 * 1024 * 1024)
    .optional()
    .describe(
      'The request body limit of `npm publish`; unset, room for the largest tarball in base64 plus 1 MiB of manifest (4/3 of `NPM_MAX_TARBALL_BYTES` plus 1 MiB). A publish must declare its `Content-Length`; one above this is `413 requestBodyTooLarge` before any of it is read.',
    ),
  NPM_MAX_FEEDS_PER_REQUEST: count(1, 1000, 25).describe(
    'Distinct feeds one package request may resolve through upstream sources (else `508 upstreamLimitExceeded`).',
  ),
  NPM_MAX_UPSTREAM_CALLS_PER_REQUEST: count(1, 1000, 10).describe(
    'Calls to the public registry one package request may make (else `508 upstreamLimitExceeded`).',
  ),
  NPM_MAX_UPSTREAM_GRAPH_FEEDS: count(0, 1000, 0).describe(
    "When above 0, a feed's upstream sources are refused (`400 upstreamGraphTooLarge`) when the feeds they reach, directly or not, are more than this.",
  ),
  NPM_MAX_PACKUMENT_BYTES: count(64 * 1024, 1024 * 1024 * 1024, 64 * 1024 * 1024).describe(
    'The largest package document (packument) read from an upstream registry.',
  ),
};

const outboundSettings = {
  OUTBOUND_ALLOWED_PRIVATE_HOSTS: hostList.describe(
    'Host names the outbound client may call although they are (or resolve to) loopback or private addresses, matched exactly as the URL names them. Local development only (`local.settings.json` sets `localhost,127.0.0.1,::1`): refused on Azure.',
  ),
};

const localRuntimeSettings = {
  PORT: z.coerce.number().int().min(0).max(65535).default(7071).describe('Port of the local runtime (`npm start`); 0 picks a free one.'),
};

/** The configuration reference's sections: a title and the settings it lists. */
export const SETTING_GROUPS = [
  { title: 'Storage and identity', settings: storageSettings },
  { title: 'Caller authentication', settings: authenticationSettings },
  { title: 'Token secrets', settings: secretSettings },
  { title: 'Portal sign-in', settings: portalSettings },
  { title: 'Requests and rate limits', settings: requestSettings },
  { title: 'Caches and coherence', settings: cacheSettings },
  { title: 'Logs and telemetry', settings: telemetrySettings },
  { title: 'Audit log', settings: auditSettings },
  { title: 'Lifecycle and notifications', settings: lifecycleSettings },
  { title: 'Free pipeline grants', settings: pipelineGrantSettings },
  { title: 'Package feeds', settings: packagingSettings },
  { title: 'Outbound requests', settings: outboundSettings },
  { title: 'Local runtime', settings: localRuntimeSettings },
] as const;

const settingsSchema = z.object({
  ...storageSettings,
  ...authenticationSettings,
  ...secretSettings,
  ...portalSettings,
  ...requestSettings,
  ...cacheSettings,
  ...telemetrySettings,
  ...auditSettings,
  ...lifecycleSettings,
  ...pipelineGrantSettings,
  ...packagingSettings,
  ...outboundSettings,
  ...localRuntimeSettings,
});

/**
 * Settings read beside the schema. `<NAME>_FILE` names a file to read a secret setting from when the
 * setting itself is unset (local development keeps generated secrets in `.local/`).
 */
export const FILE_SETTINGS = ['TOKEN_PEPPERS', 'AUTH_JWKS'] as const;

/** Settings the platform sets, which the configuration reads. */
export const PLATFORM_SETTINGS = {
  WEBSITE_INSTANCE_ID:
    'Set by Azure App Service on every instance; its presence marks a deployment in Azure, where `OUTBOUND_ALLOWED_PRIVATE_HOSTS` is refused.',
} as const;

/** Settings that are required in one of several forms; checked even when other settings are invalid. */
function alternativeProblems(env: Env): string[] {
  const problems: string[] = [];
  if (!env.STORAGE && !(env.STORAGE__tableServiceUri && env.STORAGE__queueServiceUri)) {
    problems.push('STORAGE: set STORAGE (a connection string) or STORAGE__tableServiceUri, STORAGE__queueServiceUri and STORAGE__blobServiceUri');
  }
  if (!env.AUTH_JWKS_URI && !env.AUTH_JWKS) problems.push('AUTH_JWKS_URI: set AUTH_JWKS_URI (or AUTH_JWKS locally)');
  if (env.WEBSITE_INSTANCE_ID && env.OUTBOUND_ALLOWED_PRIVATE_HOSTS?.trim()) {
    problems.push('OUTBOUND_ALLOWED_PRIVATE_HOSTS: allowed for local development only; remove it from the Azure app settings');
  }
  return problems;
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

/**
 * The app's view of the settings. Its type (AppConfig) is this schema's output: nothing else
 * declares a setting's type.
 */
const appConfigSchema = settingsSchema.transform((s) => ({
  storage: s.STORAGE
    ? { kind: 'connectionString' as const, connectionString: s.STORAGE }
    : {
        kind: 'identity' as const,
        tableServiceUri: s.STORAGE__tableServiceUri ?? '',
        queueServiceUri: s.STORAGE__queueServiceUri ?? '',
        blobServiceUri: s.STORAGE__blobServiceUri,
        managedIdentityClientId: s.STORAGE__clientId ?? s.AZURE_CLIENT_ID,
      },
  auth: {
    issuer: s.AUTH_ISSUER,
    audience: s.AUTH_AUDIENCE,
    jwksUri: s.AUTH_JWKS_URI,
    jwks: s.AUTH_JWKS,
    clockSkewSeconds: s.AUTH_CLOCK_SKEW_SECONDS,
  },
  peppers: s.TOKEN_PEPPERS,
  /** The web portal's Microsoft Entra ID sign-in (see shared/portal/config.ts); unset locally. */
  portal: { clientId: s.PORTAL_CLIENT_ID, authority: s.PORTAL_AUTHORITY },
  maxRequestBodyBytes: s.MAX_REQUEST_BODY_BYTES,
  directoryCacheSeconds: s.DIRECTORY_CACHE_SECONDS,
  /** Per-caller request budgets, per instance. */
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
  /**
   * OpenTelemetry traces and metrics: to Application Insights (with the managed identity) when its
   * connection string is set, else to an OTLP endpoint, else to the console when asked; otherwise off.
   * At most `tracesPerSecond` traces are recorded per instance.
   */
  telemetry: {
    exporter: s.APPLICATIONINSIGHTS_CONNECTION_STRING
      ? ('azureMonitor' as const)
      : s.OTEL_EXPORTER_OTLP_ENDPOINT
        ? ('otlp' as const)
        : s.TELEMETRY_CONSOLE
          ? ('console' as const)
          : ('off' as const),
    applicationInsightsConnectionString: s.APPLICATIONINSIGHTS_CONNECTION_STRING,
    otlpEndpoint: s.OTEL_EXPORTER_OTLP_ENDPOINT,
    managedIdentityClientId: s.AZURE_CLIENT_ID,
    tracesPerSecond: s.TELEMETRY_TRACES_PER_SECOND,
  },
  /** Free pipeline grants: the review timer, its rule thresholds and the capacity organizations get. */
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
    /** Ends with '/'. */
    npmUpstreamUrl: s.NPM_UPSTREAM_URL.endsWith('/') ? s.NPM_UPSTREAM_URL : `${s.NPM_UPSTREAM_URL}/`,
    upstreamTimeoutMs: s.NPM_UPSTREAM_TIMEOUT_MS,
    maxTarballBytes: s.NPM_MAX_TARBALL_BYTES,
    maxFeedsPerRequest: s.NPM_MAX_FEEDS_PER_REQUEST,
    maxUpstreamCallsPerRequest: s.NPM_MAX_UPSTREAM_CALLS_PER_REQUEST,
    maxUpstreamGraphFeeds: s.NPM_MAX_UPSTREAM_GRAPH_FEEDS,
    maxPublishBytes: s.NPM_MAX_PUBLISH_BYTES ?? Math.ceil((s.NPM_MAX_TARBALL_BYTES * 4) / 3) + 1024 * 1024,
    maxUpstreamPackumentBytes: s.NPM_MAX_PACKUMENT_BYTES,
  },
  /** Using PATs: the authentication cache and the leak report rate limit. */
  patAuth: {
    cacheSeconds: s.PAT_AUTH_CACHE_SECONDS,
    cacheMaxEntries: s.PAT_AUTH_CACHE_MAX_ENTRIES,
    lastUsedWriteSeconds: s.PAT_LAST_USED_WRITE_SECONDS,
    leakReportsPerMinute: s.LEAK_REPORTS_PER_MINUTE,
  },
  /** The lifecycle timer (expiry sweep and reminder ladder) and notification delivery. */
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
  /** Outbound HTTP (shared/http/outbound.ts). */
  outbound: { allowedPrivateHosts: s.OUTBOUND_ALLOWED_PRIVATE_HOSTS },
  trustedProxies: s.TRUSTED_PROXIES,
}));

export type AppConfig = Readonly<z.output<typeof appConfigSchema>>;
export type StorageConfig = AppConfig['storage'];
export type TelemetrySettings = AppConfig['telemetry'];
export type PipelineGrantSettings = AppConfig['pipelines'];

export function loadConfig(env: Env): AppConfig {
  const problems: string[] = [];
  const resolved = resolveFileSettings(env, problems);
  const parsed = appConfigSchema.safeParse(resolved);
  problems.push(...alternativeProblems(resolved));
  if (!parsed.success) {
    for (const issue of parsed.error.issues) {
      const name = issue.path.join('.') || 'settings';
      const message = issue.code === 'invalid_type' && resolved[name] === undefined ? 'is required' : issue.message;
      problems.push(`${name}: ${message}`);
    }
  }
  if (problems.length > 0 || !parsed.success) throw new ConfigurationError(problems);
  return Object.freeze(parsed.data);
}

let cached: AppConfig | undefined;

/** The process configuration, validated on first use (never at import time). */
export function getConfig(): AppConfig {
  cached ??= loadConfig(process.env);
  return cached;
}
