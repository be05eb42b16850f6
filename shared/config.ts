import { readFileSync } from 'node:fs';
import { z } from 'zod';

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

    MAX_REQUEST_BODY_BYTES: z.coerce.number().int().min(1024).max(100 * 1024 * 1024).default(1024 * 1024),
    LOG_LEVEL: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
    PORT: z.coerce.number().int().min(0).max(65535).default(7071),
  })
  .superRefine((settings, ctx) => {
    const identityBased = settings.STORAGE__tableServiceUri && settings.STORAGE__queueServiceUri;
    if (!settings.STORAGE && !identityBased) {
      ctx.addIssue({
        code: 'custom',
        path: ['STORAGE'],
        message:
          'set STORAGE (a connection string) or STORAGE__tableServiceUri, STORAGE__queueServiceUri and STORAGE__blobServiceUri',
      });
    }
    if (!settings.AUTH_JWKS_URI && !settings.AUTH_JWKS) {
      ctx.addIssue({ code: 'custom', path: ['AUTH_JWKS_URI'], message: 'set AUTH_JWKS_URI (or AUTH_JWKS locally)' });
    }
  });

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
  readonly maxRequestBodyBytes: number;
  readonly logLevel: 'debug' | 'info' | 'warn' | 'error';
  readonly port: number;
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
    maxRequestBodyBytes: s.MAX_REQUEST_BODY_BYTES,
    logLevel: s.LOG_LEVEL,
    port: s.PORT,
  });
}

let cached: AppConfig | undefined;

/** The process configuration, validated on first use (never at import time). */
export function getConfig(): AppConfig {
  cached ??= loadConfig(process.env);
  return cached;
}
