import { z } from 'zod';
import {
  DISPLAY_FILTER_OPTIONS,
  DISPLAY_NAME_REQUIRED,
  PAT_API_VERSIONS,
  SORT_BY_OPTIONS,
  booleanQuery,
  dateTimeSchema,
  displayNameSchema,
  guidSchema,
} from '../tokens/schemas.js';
import { MAX_PUBLIC_DATA_CHARS } from './keys.js';
import { proofOfPossessionSchema } from './proof.js';

/** The SSH key routes accept the PAT Lifecycle API's versions (they mirror that API). */
export const SSH_KEY_API_VERSIONS = PAT_API_VERSIONS;

const publicDataSchema = z
  .string()
  .max(MAX_PUBLIC_DATA_CHARS, `publicData has at most ${MAX_PUBLIC_DATA_CHARS} characters`)
  .describe('The public key: an OpenSSH line (`ssh-ed25519 AAAA… comment`), options allowed; RFC 4716 and PEM public keys also parse.');

export const sshKeyCreateRequest = z
  .object({
    displayName: displayNameSchema,
    publicData: publicDataSchema,
    validTo: dateTimeSchema.optional().describe("Expiry; must be in the future. Default: now + the policy's defaultLifespanDays. Clamped by maxLifespanDays."),
    proofOfPossession: proofOfPossessionSchema.optional(),
  })
  .strict();
export type SshKeyCreateRequest = z.infer<typeof sshKeyCreateRequest>;

export const sshKeyUpdateRequest = z
  .object({
    authorizationId: guidSchema,
    displayName: displayNameSchema.optional(),
    validTo: dateTimeSchema.optional(),
  })
  .strict();
export type SshKeyUpdateRequest = z.infer<typeof sshKeyUpdateRequest>;

const caseInsensitiveEnum = <const T extends readonly [string, ...string[]]>(values: T) =>
  z.preprocess(
    (value) => (typeof value === 'string' ? (values.find((candidate) => candidate.toLowerCase() === value.toLowerCase()) ?? value) : value),
    z.enum(values),
  );

export const sshKeysGetQuery = z.object({
  authorizationId: guidSchema.optional().describe('Get one key; without it the call lists keys.'),
  displayFilterOption: caseInsensitiveEnum(DISPLAY_FILTER_OPTIONS).default('active'),
  sortByOption: caseInsensitiveEnum(SORT_BY_OPTIONS).default('displayName'),
  isSortAscending: booleanQuery.default(true),
  continuationToken: z.string().max(2048).optional(),
  $top: z.coerce.number().int().min(1).max(100).default(100),
});
export type SshKeysGetQuery = z.infer<typeof sshKeysGetQuery>;

export const sshKeyDeleteQuery = z.object({
  authorizationId: guidSchema,
  remove: booleanQuery.default(false).describe('true removes the key entirely (only the audit trail keeps it); false revokes it.'),
});

export const sshKeySchema = z.object({
  authorizationId: z.string(),
  displayName: z.string(),
  publicData: z.string(),
  fingerprint: z.string().describe('SHA256:… exactly as `ssh-keygen -l -E sha256` prints it.'),
  keyType: z.string(),
  keySize: z.number(),
  validFrom: z.string(),
  validTo: z.string(),
  isValid: z.boolean(),
  status: z.enum(['active', 'expired', 'revoked']),
  lastUsed: z.string().nullable(),
  proven: z.boolean().describe('Registered with a proof of possession of the private key.'),
});
export type SshKeyView = z.infer<typeof sshKeySchema>;

export const sshKeyResultSchema = z.object({
  sshKey: sshKeySchema.nullable(),
  sshKeyError: z.string(),
  sshKeyErrorMessage: z.string().nullable().optional(),
});

export const pagedSshKeysSchema = z.object({
  continuationToken: z.string(),
  sshKeys: z.array(sshKeySchema),
});

/** Maps validation issues of SSH key requests to the codes of the SshKeyResult envelope. */
export function sshKeyValidationCode(_where: 'query' | 'body', issue: z.core.$ZodIssue): string | undefined {
  switch (issue.path[0]) {
    case 'displayName':
      return issue.code === 'invalid_type' || issue.message === DISPLAY_NAME_REQUIRED ? 'displayNameRequired' : 'invalidDisplayName';
    case 'publicData':
      return issue.code === 'invalid_type' ? 'publicDataRequired' : 'invalidPublicKey';
    case 'validTo':
      return 'invalidValidTo';
    case 'proofOfPossession':
      return 'invalidProofOfPossession';
    case 'authorizationId':
      return 'invalidAuthorizationId';
    default:
      return undefined;
  }
}

// ---- key lookup ------------------------------------------------------------------------------------

export const sshKeyLookupRequest = z
  .object({
    fingerprint: z.string().max(100).optional().describe('SHA256:… (as ssh-keygen prints it; padding optional).'),
    publicKey: z.string().max(MAX_PUBLIC_DATA_CHARS).optional().describe('The public key line (or its base64 part).'),
    organization: z.string().max(256).optional().describe('Limit the lookup to one organization (name or id).'),
  })
  .strict()
  .refine((body) => (body.fingerprint === undefined) !== (body.publicKey === undefined), 'give either fingerprint or publicKey');

export const sshKeyLookupMatchSchema = z.object({
  authorizationId: z.string(),
  displayName: z.string(),
  fingerprint: z.string(),
  keyType: z.string(),
  keySize: z.number(),
  validFrom: z.string(),
  validTo: z.string(),
  isValid: z.literal(true),
  owner: z.object({ id: z.string(), displayName: z.string(), principalName: z.string(), descriptor: z.string() }),
  organization: z.object({ id: z.string(), name: z.string() }),
  proven: z.boolean().describe('The owner proved holding the private key; a git server may require it.'),
});

export const sshKeyLookupResultSchema = z.object({ count: z.number(), value: z.array(sshKeyLookupMatchSchema) });
