// What people read when the API says no: its stable error codes in plain words, falling back to the
// API's own message (never the raw JSON).
const MESSAGES: Record<string, string> = {
  unauthorized: 'Your sign-in has expired. Sign in again.',
  accessDenied: 'You do not have permission to do this.',
  projectScopedUserRestricted: 'Your organization limits you to the projects you belong to.',
  insufficientScope: 'Your sign-in does not include the permission this needs.',
  rateLimited: 'Too many requests. Wait a moment and try again.',
  storageUnavailable: 'The service is temporarily unavailable. Try again shortly.',
  auditUnavailable: 'The change was not made because it could not be audited. Try again shortly.',
  preconditionFailed: 'Someone else changed this in the meantime. Reload and try again.',
  organizationNotFound: 'This organization does not exist or you are not a member.',
  http404: 'Not found.',
  http500: 'Something went wrong on the server.',
};

export function describeError(code: string, apiMessage: string | undefined, status: number): string {
  const known = MESSAGES[code];
  if (known) return known;
  if (apiMessage) return apiMessage;
  return status >= 500 ? 'Something went wrong on the server. Try again.' : `The request failed (${code}).`;
}

export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : 'Something went wrong.';
}
