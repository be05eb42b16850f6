import { ZodError } from 'zod';

/**
 * A failure the caller can act on. `code` is the stable machine-readable identifier (camelCase);
 * `typeKey` mirrors the exception names Azure DevOps puts in its error bodies.
 */
export class AppError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly options: { typeKey?: string; details?: unknown; headers?: Record<string, string> } = {},
  ) {
    super(message);
    this.name = 'AppError';
  }

  get typeKey(): string {
    return this.options.typeKey ?? `${this.code.charAt(0).toUpperCase()}${this.code.slice(1)}Exception`;
  }
}

export const badRequest = (code: string, message: string, details?: unknown) => new AppError(400, code, message, { details });
export const unauthorized = (message = 'Authentication is required to access this resource.') =>
  new AppError(401, 'unauthorized', message, {
    typeKey: 'UnauthorizedRequestException',
    headers: { 'WWW-Authenticate': 'Bearer' },
  });
export const forbidden = (code: string, message: string) => new AppError(403, code, message);
export const notFound = (code: string, message: string) => new AppError(404, code, message);
export const conflict = (code: string, message: string, details?: unknown) => new AppError(409, code, message, { details });

/**
 * A change that kept losing its race against other writers of the same entities (after the retries of
 * shared/storage/conditional.ts): nothing was written; the client reads again and retries.
 */
export class ConcurrentModificationError extends AppError {
  constructor(message = 'The resource was changed by another request; read it again and retry.') {
    super(409, 'concurrentModification', message);
  }
}

export const organizationNotFound = (organization: string) =>
  notFound('organizationNotFound', `The organization '${organization}' does not exist or you do not have access to it.`);

/** Turns anything thrown into an AppError; unknown failures become a 500 whose details stay in the log. */
export function toAppError(error: unknown): AppError {
  if (error instanceof AppError) return error;
  if (error instanceof ZodError) {
    return badRequest(
      'invalidRequest',
      error.issues.map((issue) => `${issue.path.join('.') || 'body'}: ${issue.message}`).join('; '),
      error.issues.map((issue) => ({ path: issue.path.join('.'), message: issue.message })),
    );
  }
  if (isStorageUnavailable(error)) {
    return new AppError(503, 'storageUnavailable', 'Storage is unavailable; try again shortly.', {
      headers: { 'Retry-After': '5' },
    });
  }
  const status = restErrorStatus(error);
  if (status === 409 || status === 412) return new ConcurrentModificationError();
  return new AppError(500, 'internalError', 'An unexpected error occurred.');
}

const NETWORK_ERRORS = new Set(['ECONNREFUSED', 'ECONNRESET', 'ETIMEDOUT', 'EPIPE', 'ENOTFOUND', 'EAI_AGAIN']);

/** Azure SDK errors are RestErrors; matched by shape so duplicate SDK copies still match. */
function isRestError(error: unknown): error is { name: 'RestError'; statusCode?: number; code?: string } {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'RestError';
}

export function restErrorStatus(error: unknown): number | undefined {
  return isRestError(error) ? error.statusCode : undefined;
}

export function isStorageUnavailable(error: unknown): boolean {
  if (isRestError(error)) {
    const status = error.statusCode;
    if (status === undefined || status === 500 || status === 503 || status === 429) return true;
    return error.code !== undefined && NETWORK_ERRORS.has(error.code);
  }
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NETWORK_ERRORS.has(code);
}

/**
 * Azure DevOps' `SessionTokenError` values (tokens spec 7.2, in spec order). Routes that answer with a
 * `PatTokenResult` report AppErrors carrying one of these codes inside that envelope.
 */
export const SESSION_TOKEN_ERRORS = [
  'none',
  'displayNameRequired',
  'invalidDisplayName',
  'invalidValidTo',
  'invalidScope',
  'userIdRequired',
  'invalidUserId',
  'invalidUserType',
  'accessDenied',
  'failedToIssueAccessToken',
  'invalidClient',
  'invalidClientType',
  'invalidClientId',
  'invalidTargetAccounts',
  'hostAuthorizationNotFound',
  'authorizationNotFound',
  'failedToUpdateAccessToken',
  'sourceNotSupported',
  'invalidSourceIP',
  'invalidSource',
  'duplicateHash',
  'sshPolicyDisabled',
  'invalidToken',
  'tokenNotFound',
  'invalidAuthorizationId',
  'failedToReadTenantPolicy',
  'globalPatPolicyViolation',
  'fullScopePatPolicyViolation',
  'patLifespanPolicyViolation',
  'invalidTokenType',
  'invalidAudience',
  'invalidSubject',
  'deploymentHostNotSupported',
  'disablePatCreationPolicyViolation',
  'failedToReadOrgPolicy',
  'globalPATCreationBlocked',
  'expiredPatCannotBeExtended',
] as const;
export type SessionTokenError = (typeof SESSION_TOKEN_ERRORS)[number];

const SESSION_TOKEN_ERROR_SET: ReadonlySet<string> = new Set(SESSION_TOKEN_ERRORS);
export const isSessionTokenError = (code: string): code is SessionTokenError => SESSION_TOKEN_ERROR_SET.has(code);

/** A business failure of a session-token (PAT) operation, with the HTTP status that fits it. */
export const sessionTokenFailure = (status: 400 | 403 | 404 | 409, code: Exclude<SessionTokenError, 'none'>, message: string) =>
  new AppError(status, code, message);

/**
 * Refusals specific to SSH public keys (Gatehouse's own; Azure DevOps has no public SSH key API). The
 * SSH key routes report these and the SessionTokenError values in the `SshKeyResult` envelope.
 */
export const SSH_KEY_ERRORS = [
  'publicDataRequired',
  'invalidPublicKey',
  'unsupportedKeyType',
  'multiplePublicKeys',
  'privateKeyNotAllowed',
  'dsaKeyNotAllowed',
  'rsaKeyTooShort',
  'sshCertificateNotAllowed',
  'keyTypePolicyViolation',
  'rsaKeySizePolicyViolation',
  'expiredSshKeyCannotBeExtended',
  'invalidProofOfPossession',
] as const;
export type SshKeyError = (typeof SSH_KEY_ERRORS)[number];
const SSH_KEY_ERROR_SET: ReadonlySet<string> = new Set(SSH_KEY_ERRORS);

/** A business failure of an SSH key operation (SessionTokenError or SshKeyError code). */
export const sshKeyFailure = (status: 400 | 403 | 404 | 409, code: Exclude<SessionTokenError, 'none'> | SshKeyError, message: string) =>
  new AppError(status, code, message);

/**
 * How an endpoint renders errors: `standard` is Azure DevOps' exception body; `patTokenResult` puts
 * AppErrors whose code is a SessionTokenError into `{ patToken: null, patTokenError, patTokenErrorMessage }`
 * (other errors, such as 401, keep the standard body); `sshKeyResult` does the same for SessionTokenError
 * and SshKeyError codes as `{ sshKey: null, sshKeyError, sshKeyErrorMessage }`; `npmRegistry` adds the
 * `error` field the npm CLI prints to the standard body.
 */
export type ErrorEnvelope = 'standard' | 'patTokenResult' | 'sshKeyResult' | 'npmRegistry';

/**
 * The tokens spec up to 7.1 has 33 SessionTokenError values and no `patTokenErrorMessage`; 7.2 adds
 * the message and four values. A 7.1 caller gets the closest 7.1 value (the exact code is also in the
 * `X-Gatehouse-Error` header).
 */
const DOWNGRADE_TO_71: Partial<Record<SessionTokenError, SessionTokenError>> = {
  disablePatCreationPolicyViolation: 'accessDenied',
  failedToReadOrgPolicy: 'failedToReadTenantPolicy',
  globalPATCreationBlocked: 'globalPatPolicyViolation',
  expiredPatCannotBeExtended: 'failedToUpdateAccessToken',
};

const usesSpec71 = (apiVersion: string | null | undefined) => !apiVersion || /^(?:[0-6]\.|7\.[01](?:$|-|\.))/.test(apiVersion);

export function renderErrorBody(error: AppError, envelope: ErrorEnvelope = 'standard', apiVersion?: string | null): unknown {
  if (envelope === 'patTokenResult' && isSessionTokenError(error.code) && error.code !== 'none') {
    if (usesSpec71(apiVersion)) return { patToken: null, patTokenError: DOWNGRADE_TO_71[error.code] ?? error.code };
    return { patToken: null, patTokenError: error.code, patTokenErrorMessage: error.message };
  }
  if (envelope === 'sshKeyResult' && error.code !== 'none' && (isSessionTokenError(error.code) || SSH_KEY_ERROR_SET.has(error.code))) {
    return { sshKey: null, sshKeyError: error.code, sshKeyErrorMessage: error.message };
  }
  if (envelope === 'npmRegistry') return { ...errorBody(error), error: `${error.code}: ${error.message}` };
  return errorBody(error);
}

/** The Azure DevOps error body shape, with Gatehouse's stable `code`. */
export function errorBody(error: AppError) {
  return {
    $id: '1',
    innerException: null,
    message: error.message,
    typeName: `Gatehouse.${error.typeKey}, Gatehouse`,
    typeKey: error.typeKey,
    errorCode: 0,
    eventId: 3000,
    code: error.code,
    ...(error.options.details === undefined ? {} : { details: error.options.details }),
  };
}
