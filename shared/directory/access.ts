import type { AppContext } from '../app-context.js';
import { subjectKindOf, type Caller } from '../auth/caller.js';
import { organizationNotFound } from '../http/errors.js';
import type { Membership, Organization } from './repository.js';

export interface OrganizationAccess {
  readonly organization: Organization;
  readonly membership: Membership;
  readonly isAdministrator: boolean;
  /** True while the organization limits this caller to its own projects. */
  readonly isProjectScoped: boolean;
}

/**
 * The caller's standing in an organization. A malformed name, a missing organization and one the
 * caller does not belong to all give the same 404, so nothing is learned about other organizations.
 */
export async function resolveOrganizationAccess(app: AppContext, name: string, caller: Caller): Promise<OrganizationAccess> {
  // The lookup refuses a name that cannot be an organization's (so at most 50 characters are quoted back).
  const organization = await app.directory.getOrganizationByName(name);
  if (!organization) throw organizationNotFound(name.slice(0, 64));
  const membership = await app.directory.getMembership(organization.id, subjectKindOf(caller), caller.id);
  if (!membership) throw organizationNotFound(name);
  const isAdministrator = membership.groups.includes('projectCollectionAdministrators');
  return {
    organization,
    membership,
    isAdministrator,
    isProjectScoped: organization.projectScopedVisibility && !isAdministrator && membership.groups.includes('projectScopedUsers'),
  };
}
