import type { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { subjectDescriptor } from '../auth/caller.js';
import { commitWithEvents } from '../audit/outbox.js';
import { organizationEvent } from '../audit/context.js';
import { TABLES } from '../storage/names.js';
import type { OrganizationAccess } from './access.js';
import type { OrganizationScope } from '../request-scope.js';
import type { Membership, Organization, User } from './repository.js';
import type { identitySearchQuery, organizationSettingsBody } from './schemas.js';
import { getProject } from './service.js';

export function organizationSettingsView(organization: Organization) {
  return { limitUserVisibilityToProjects: organization.projectScopedVisibility, allowExternalGuests: organization.allowExternalGuests };
}

/**
 * Turns "limit user visibility and collaboration to specific projects" and "external guest access"
 * on or off, each change audited with it.
 */
export async function updateOrganizationSettings(
  { app, organization: access, audit }: OrganizationScope,
  body: z.infer<typeof organizationSettingsBody>,
): Promise<Organization> {
  const before = access.organization;
  const after: Organization = {
    ...before,
    projectScopedVisibility: body.limitUserVisibilityToProjects ?? before.projectScopedVisibility,
    allowExternalGuests: body.allowExternalGuests ?? before.allowExternalGuests,
  };
  const changes = [
    { setting: 'limitUserVisibilityToProjects', previousValue: before.projectScopedVisibility, newValue: after.projectScopedVisibility },
    { setting: 'allowExternalGuests', previousValue: before.allowExternalGuests, newValue: after.allowExternalGuests },
  ].filter((change) => change.previousValue !== change.newValue);
  if (changes.length === 0) return after;
  const events = changes.map((data) => organizationEvent(app, audit, after, { actionId: 'Organization.SettingsUpdateEvent', data }));
  await commitWithEvents(
    app,
    TABLES.organizations,
    [
      [
        'update',
        {
          partitionKey: 'org',
          rowKey: `n_${after.name.toLowerCase()}`,
          projectScopedVisibility: after.projectScopedVisibility,
          allowExternalGuests: after.allowExternalGuests,
        },
        'Merge',
      ],
    ],
    events,
  );
  await app.directory.forgetOrganization(after.name);
  return after;
}

/** The ids of the people the caller may see: everyone, or for a Project-Scoped User only people sharing a project. */
function visibleTo(access: OrganizationAccess, memberships: Membership[], projectId: string | undefined): Membership[] {
  const users = memberships.filter((membership) => membership.subjectKind === 'user');
  if (projectId) return users.filter((membership) => membership.projects.some((project) => project.id === projectId));
  if (!access.isProjectScoped) return users;
  const mine = new Set(access.membership.projects.map((project) => project.id));
  return users.filter((membership) => membership.subjectId === access.membership.subjectId || membership.projects.some((project) => mine.has(project.id)));
}

export function identityView(user: User) {
  return {
    id: user.id,
    descriptor: subjectDescriptor('user', user.id),
    providerDisplayName: user.displayName,
    isActive: true,
    properties: {
      Mail: { $type: 'System.String', $value: user.email },
      Account: { $type: 'System.String', $value: user.email },
    },
  };
}

/**
 * People search and resolution (`searchFilter` General, MailAddress, DisplayName, or `identityIds`).
 * Everything outside the caller's visibility is simply absent: a hidden person and one who does not
 * exist give the same answer.
 */
export async function searchIdentities(app: AppContext, access: OrganizationAccess, query: z.infer<typeof identitySearchQuery>) {
  const projectId = query.projectId ? (await getProject(app, access, query.projectId)).id : undefined;
  const memberships = visibleTo(access, await app.directory.listMemberships(access.organization.id), projectId);
  const users = (await Promise.all(memberships.map((membership) => app.directory.getUser(membership.subjectId)))).filter(
    (user): user is User => user !== undefined,
  );
  let matches: User[];
  if (query.identityIds) {
    const wanted = new Set(query.identityIds);
    matches = users.filter((user) => wanted.has(user.id));
  } else {
    const needle = (query.filterValue ?? '').toLowerCase();
    matches = users.filter((user) => {
      const email = user.email.toLowerCase();
      const name = user.displayName.toLowerCase();
      switch (query.searchFilter) {
        case 'MailAddress':
          return email === needle;
        case 'DisplayName':
          return name.includes(needle);
        default:
          return email.includes(needle) || name.includes(needle);
      }
    });
  }
  matches.sort((a, b) => a.displayName.localeCompare(b.displayName));
  return { count: matches.length, value: matches.map(identityView) };
}

/** What the usage page shows of an organization's pipeline capacity (read by shared/pipelines). */
interface CapacitySummary {
  readonly grant: { readonly status: string };
  readonly public: { readonly parallelJobs: number };
  readonly private: { readonly parallelJobs: number };
}

/**
 * A minimal billing-and-usage page: members, projects and pipeline grants. The capacity is read by
 * the caller's `readCapacity` (shared/pipelines builds on the directory, not the other way round).
 */
export async function organizationUsage(
  app: AppContext,
  access: OrganizationAccess,
  readCapacity: (app: AppContext, organization: Organization) => Promise<CapacitySummary>,
) {
  const [memberships, projects, capacity] = await Promise.all([
    app.directory.listMemberships(access.organization.id),
    app.directory.listProjects(access.organization.id),
    readCapacity(app, access.organization),
  ]);
  return {
    organizationId: access.organization.id,
    members: memberships.filter((membership) => membership.subjectKind === 'user').length,
    servicePrincipals: memberships.filter((membership) => membership.subjectKind === 'servicePrincipal').length,
    projects: { total: projects.length, public: projects.filter((project) => project.visibility === 'public').length },
    pipelines: {
      freeGrantStatus: capacity.grant.status,
      publicParallelJobs: capacity.public.parallelJobs,
      privateParallelJobs: capacity.private.parallelJobs,
    },
  };
}
