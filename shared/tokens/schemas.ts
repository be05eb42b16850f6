import { z } from 'zod';
import type { ApiVersionRange } from '../http/api-versions.js';
import { redactSecrets } from '../secrets/redaction.js';

/**
 * api-versions of the PAT Lifecycle API: from 6.1 (its first spec; Microsoft's examples use
 * `6.1-preview`); the spec defines only previews, 7.1 is what Microsoft's article uses.
 */
export const PAT_API_VERSIONS: ApiVersionRange = { min: '6.1', max: '7.2', released: '7.1', resourceVersion: 1 };
/** api-versions of the Token Admin API: from 5.0 (Microsoft's examples use `5.0-preview.1`); 7.1 is GA. */
export const TOKEN_ADMIN_API_VERSIONS: ApiVersionRange = { min: '5.0', max: '7.2', released: '7.1', resourceVersion: 1 };
/** api-versions of Gatehouse's token policy routes (same family as the PAT API). */
export const TOKEN_POLICY_API_VERSIONS = PAT_API_VERSIONS;

export const DISPLAY_NAME_MAX = 256;
export const DISPLAY_NAME_REQUIRED = 'a display name is required';

export const displayNameSchema = z
  .string()
  .max(DISPLAY_NAME_MAX, `display names have at most ${DISPLAY_NAME_MAX} characters`)
  .refine((value) => value.trim().length > 0, DISPLAY_NAME_REQUIRED)
  .refine((value) => !/[\u0000-\u001f\u007f-\u009f]/.test(value), 'display names may not contain control characters')
  .transform(redactSecrets)
  .describe('The token name (1–256 characters, no control characters; token-shaped text in it is redacted).');

/** ISO 8601 date-time; a value without an offset is read as UTC. */
export const dateTimeSchema = z.iso.datetime({ offset: true, local: true });

export function parseDateTime(value: string): Date {
  const withZone = /(?:Z|[+-]\d{2}:?\d{2})$/i.test(value) ? value : `${value}Z`;
  return new Date(withZone);
}

const caseInsensitiveEnum = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.preprocess(
    (value) => (typeof value === 'string' ? (values.find((candidate) => candidate.toLowerCase() === value.toLowerCase()) ?? value) : value),
    z.enum(values),
  );

export const booleanQuery = z.preprocess(
  (value) => (typeof value === 'string' ? (({ true: true, false: false } as Record<string, boolean>)[value.toLowerCase()] ?? value) : value),
  z.boolean(),
);

export const guidSchema = z.guid();

// ---- PAT Lifecycle API ---------------------------------------------------------------------------

export const patCreateRequest = z
  .object({
    displayName: displayNameSchema,
    scope: z.string().describe("Space-separated scopes from the Azure DevOps catalogue; 'app_token' means full access."),
    validTo: dateTimeSchema.describe('Expiry; must be in the future. Clamped by the maximum-lifespan policy.'),
    allOrgs: z.boolean().default(false).describe('True for a global PAT (every organization of the user).'),
  })
  .strict();

export const patUpdateRequest = z
  .object({
    authorizationId: guidSchema,
    displayName: displayNameSchema.optional(),
    scope: z.string().optional(),
    validTo: dateTimeSchema.optional(),
    allOrgs: z.boolean().optional(),
  })
  .strict();

export const DISPLAY_FILTER_OPTIONS = ['active', 'revoked', 'expired', 'all'] as const;
export const SORT_BY_OPTIONS = ['displayName', 'displayDate', 'status'] as const;

export const patsGetQuery = z.object({
  authorizationId: guidSchema.optional().describe('Get one PAT; without it the call lists PATs.'),
  displayFilterOption: caseInsensitiveEnum(DISPLAY_FILTER_OPTIONS).default('active'),
  sortByOption: caseInsensitiveEnum(SORT_BY_OPTIONS).default('displayName'),
  isSortAscending: booleanQuery.default(true),
  continuationToken: z.string().max(2048).optional(),
  $top: z.coerce.number().int().min(1).max(100).default(100),
});
export type PatsGetQuery = z.infer<typeof patsGetQuery>;

export const authorizationIdQuery = z.object({ authorizationId: guidSchema });

/** Gatehouse's extra beside the Azure DevOps fields on get, list and token admin list. */
export const lastUsedSchema = z
  .object({
    time: z.string().describe('Last successful authentication (recorded at most once a minute per token).'),
    ip: z.string().nullable(),
    userAgent: z.string().nullable(),
    recentIps: z.array(z.string()).describe('The five most recent distinct client IPs, newest first.'),
  })
  .nullable()
  .describe('Last use of the PAT; null when never used.');
export type LastUsedView = z.infer<typeof lastUsedSchema>;

/** What every view of a PAT shows about it (the API's PatToken, self lookup, policy preview). */
export const patMetadataSchema = z.object({
  authorizationId: z.string(),
  displayName: z.string(),
  scope: z.string(),
  targetAccounts: z.array(z.string()).nullable(),
  validFrom: z.string(),
  validTo: z.string(),
});

export const patTokenSchema = patMetadataSchema.extend({
  token: z.string().nullable(),
  lastUsed: lastUsedSchema.optional(),
});
export type PatTokenView = z.infer<typeof patTokenSchema>;

export const patTokenResultSchema = z.object({
  patToken: patTokenSchema.nullable(),
  patTokenError: z.string(),
  patTokenErrorMessage: z.string().nullable().optional(),
});

export const pagedPatTokensSchema = z.object({
  continuationToken: z.string(),
  patTokens: z.array(patTokenSchema),
});

/** Maps validation issues of PAT requests to SessionTokenError codes (rendered in the PatTokenResult envelope). */
export function patValidationCode(_where: 'query' | 'body', issue: z.core.$ZodIssue): string | undefined {
  const field = issue.path[0];
  switch (field) {
    case 'displayName':
      return issue.code === 'invalid_type' || issue.message === DISPLAY_NAME_REQUIRED ? 'displayNameRequired' : 'invalidDisplayName';
    case 'validTo':
      return 'invalidValidTo';
    case 'scope':
      return 'invalidScope';
    case 'allOrgs':
      return 'invalidTargetAccounts';
    case 'authorizationId':
      return 'invalidAuthorizationId';
    default:
      return undefined;
  }
}

// ---- Token Admin API -----------------------------------------------------------------------------

export const tokenAdminListQuery = z.object({
  pageSize: z.coerce.number().int().min(1).max(100).default(20),
  continuationToken: guidSchema.optional(),
  isPublic: booleanQuery.default(false),
});

export const subjectDescriptorParam = z.object({ organization: z.string(), subjectDescriptor: z.string().max(256) });

export const isPublicQuery = z.object({ isPublic: booleanQuery.default(false) });

export const revocationsBody = z
  .array(z.object({ authorizationId: guidSchema }).strict())
  .min(1, 'at least one authorizationId is required')
  .max(100, 'at most 100 authorizations per call');

export const revocationRuleBody = z
  .object({
    scopes: z.string().min(1, 'scopes is required').max(4096),
    createdBefore: dateTimeSchema.optional(),
  })
  .strict();

export const sessionTokenSchema = z.object({
  accessId: z.string(),
  alternateToken: z.null(),
  authorizationId: z.string(),
  claims: z.null(),
  clientId: z.string(),
  displayName: z.string().nullable(),
  hostAuthorizationId: z.string(),
  isPublic: z.boolean(),
  isValid: z.boolean(),
  publicData: z.string().nullable(),
  scope: z.string(),
  source: z.string().nullable(),
  targetAccounts: z.array(z.string()).nullable(),
  token: z.null(),
  userId: z.string(),
  validFrom: z.string(),
  validTo: z.string(),
  lastUsed: lastUsedSchema.optional(),
});
export type SessionTokenView = z.infer<typeof sessionTokenSchema>;

export const pagedSessionTokensSchema = z.object({
  value: z.array(sessionTokenSchema),
  continuationToken: z.string().nullable(),
});
