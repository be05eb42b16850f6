import type { AppContext } from '../app-context.js';
import type { Organization } from '../directory/repository.js';
import { ZERO_GUID } from '../ids.js';
import type { SessionTokenView } from './schemas.js';
import type { AuditedChange } from './service.js';

/**
 * A kind of session token the Token Admin API lists and revokes (shared/tokens/admin.ts): PATs
 * (`isPublic=false`) and SSH keys (`isPublic=true`) each provide one.
 */
export interface SessionTokenSource {
  /** Every token of the user that can reach the organization, sorted by authorizationId. */
  list(app: AppContext, organization: Organization, userId: string): Promise<SessionTokenView[]>;
  /** Finds a token that can reach the organization, whose owner is a member of it. */
  find(app: AppContext, organization: Organization, authorizationId: string): Promise<{ ownerId: string } | undefined>;
  /** Revokes it (idempotent) with its audit event. */
  revoke(change: AuditedChange, authorizationId: string): Promise<void>;
}

/** What sets one kind of session token apart in its Token Admin view. */
export type SessionTokenVariant = Pick<SessionTokenView, 'isPublic' | 'isValid' | 'publicData' | 'scope' | 'targetAccounts'>;

export function sessionTokenViewOf(
  record: { accessId: string; authorizationId: string; displayName: string; ownerId: string; validFrom: string; validTo: string },
  variant: SessionTokenVariant,
): SessionTokenView {
  return {
    accessId: record.accessId,
    alternateToken: null,
    authorizationId: record.authorizationId,
    claims: null,
    clientId: ZERO_GUID,
    displayName: record.displayName,
    hostAuthorizationId: ZERO_GUID,
    isPublic: variant.isPublic,
    isValid: variant.isValid,
    publicData: variant.publicData,
    scope: variant.scope,
    source: null,
    targetAccounts: variant.targetAccounts,
    token: null,
    userId: record.ownerId,
    validFrom: record.validFrom,
    validTo: record.validTo,
  };
}

/** The owner's display name for audit data (the user id when the directory no longer knows them). */
export async function ownerName(app: AppContext, userId: string): Promise<string> {
  return (await app.directory.getUser(userId))?.displayName ?? userId;
}

/** `SessionTokenSource.find`'s answer for a token found in the organization: its owner, while a member. */
export async function memberOwnerOf(app: AppContext, organizationId: string, record: { ownerId: string }): Promise<{ ownerId: string } | undefined> {
  const membership = await app.directory.getMembership(organizationId, 'user', record.ownerId);
  return membership ? { ownerId: record.ownerId } : undefined;
}
