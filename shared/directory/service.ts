import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { takeCreationBudget } from '../http/rate-limit.js';
import { subjectDescriptor, subjectKindOf, type Caller, type UserCaller } from '../auth/caller.js';
import { badRequest, conflict, forbidden, notFound, restErrorStatus } from '../http/errors.js';
import { enforcedTenantPolicies, exemptFrom } from '../tokens/policies.js';
import { organizationEvent, type AuditContext } from '../audit/context.js';
import type { AuditEvent } from '../audit/events.js';
import { commitWithEvents } from '../audit/outbox.js';
import { TABLES, type TableName } from '../storage/names.js';
import type { Commit } from './repository.js';
import type { OrganizationAccess } from './access.js';
import type { CallerScope, OrganizationScope } from '../request-scope.js';
import type { Invitation, Membership, Organization, Project, User } from './repository.js';
import type { addMemberBody, createOrganizationBody, createProjectBody, updateMemberBody, updateProjectBody } from './schemas.js';
import { isGuid } from '../ids.js';

/** A commit that carries the change's audit events (shared/audit/outbox.ts). */
const audited =
  (app: AppContext, table: TableName, events: readonly AuditEvent[]): Commit =>
  (actions) =>
    commitWithEvents(app, table, actions, events);

const groupsText = (groups: readonly string[]) => (groups.length > 0 ? groups.join(', ') : 'none');

/** Group.UpdateGroupMembership for one membership change (added, changed, removed). */
function membershipEvent(
  app: AppContext,
  audit: AuditContext,
  organization: Organization,
  member: { id: string; name: string },
  current: Membership | undefined,
  next: Membership | undefined,
): AuditEvent {
  const change = !current ? 'add' : !next ? 'remove' : 'modify';
  return organizationEvent(app, audit, organization, {
    actionId: 'Group.UpdateGroupMembership',
    data: {
      Change: change,
      MemberId: member.id,
      MemberDisplayName: member.name,
      PreviousGroups: groupsText(current?.groups ?? []),
      Groups: groupsText(next?.groups ?? []),
      PreviousProjects: (current?.projects ?? []).map((project) => `${project.id}:${project.role}`),
      Projects: (next?.projects ?? []).map((project) => `${project.id}:${project.role}`),
    },
  });
}

export function organizationView(organization: Organization) {
  return {
    id: organization.id,
    name: organization.name,
    description: organization.description,
    createdDate: organization.createdAt,
  };
}

export function projectView(project: Project, organizationName: string) {
  return {
    id: project.id,
    name: project.name,
    description: project.description,
    visibility: project.visibility,
    state: 'wellFormed' as const,
    lastUpdateTime: project.updatedAt,
    url: `/${organizationName}/_apis/projects/${project.id}`,
  };
}

/**
 * A signed-in user creates an organization in their own tenant (unless the tenant restricts creation)
 * and becomes its first Project Collection Administrator. The identity is stored first; if the
 * administrator cannot be added, the organization is removed again, so no name is left taken by an
 * organization nobody can use.
 */
export async function createOrganization({ app, caller, audit }: CallerScope<UserCaller>, body: z.infer<typeof createOrganizationBody>): Promise<Organization> {
  const restriction = (await enforcedTenantPolicies(app, caller.tenantId)).restrictOrganizationCreation;
  if (restriction.enabled && !exemptFrom(restriction, caller.id)) {
    throw forbidden('organizationCreationRestricted', 'Your tenant restricts who may create organizations.');
  }
  takeCreationBudget(app, 'organizations', caller, restriction.maxPerUserPerHour);
  await app.directory.saveUser({ id: caller.id, email: caller.email, displayName: caller.displayName, tenantId: caller.tenantId });
  const organization: Organization = {
    id: randomUUID(),
    name: body.name,
    description: body.description ?? '',
    createdAt: app.clock.now().toISOString(),
    projectScopedVisibility: false,
    tenantId: caller.tenantId,
    allowExternalGuests: false,
  };
  const created = organizationEvent(app, audit, organization, {
    actionId: 'Organization.Create',
    // The creator's administrator membership is part of this change and recorded here.
    data: { OrganizationName: organization.name, OrganizationId: organization.id, TenantId: organization.tenantId, AdministratorId: caller.id },
  });
  try {
    await app.directory.createOrganization(organization, audited(app, TABLES.organizations, [created]));
  } catch (error) {
    if (restErrorStatus(error) === 409) {
      throw conflict('organizationNameTaken', `The organization name '${body.name}' is not available.`);
    }
    throw error;
  }
  try {
    await app.directory.changeMembership(organization.id, 'user', caller.id, () => ({
      organizationId: organization.id,
      subjectKind: 'user',
      subjectId: caller.id,
      groups: ['projectCollectionAdministrators'],
      projects: [],
      since: app.clock.now().toISOString(),
    }));
  } catch (error) {
    await app.directory.deleteOrganization(organization).catch(() => undefined);
    throw error;
  }
  return organization;
}

export async function listOrganizationsOf(app: AppContext, caller: Caller): Promise<Organization[]> {
  const ids = await app.directory.listOrganizationIdsOf(subjectKindOf(caller), caller.id);
  const found = await Promise.all(
    ids.map(async (id) => {
      const membership = await app.directory.getMembership(id, subjectKindOf(caller), caller.id);
      return membership ? app.directory.getOrganizationById(id) : undefined;
    }),
  );
  return found.filter((organization): organization is Organization => organization !== undefined).sort((a, b) => a.name.localeCompare(b.name));
}

const isVisible = (access: OrganizationAccess, projectId: string) =>
  !access.isProjectScoped || access.membership.projects.some((project) => project.id === projectId);

export async function listProjects(app: AppContext, access: OrganizationAccess): Promise<Project[]> {
  const projects = await app.directory.listProjects(access.organization.id);
  return projects.filter((project) => isVisible(access, project.id));
}

/** Finds a project by id or name; one the caller may not see answers exactly like a missing one. */
export async function getProject(app: AppContext, access: OrganizationAccess, idOrName: string): Promise<Project> {
  const organizationId = access.organization.id;
  const project = isGuid(idOrName)
    ? await app.directory.getProject(organizationId, idOrName)
    : idOrName.length <= 64 && !/[/\\#?\u0000-\u001f]/.test(idOrName)
      ? await app.directory.getProjectByName(organizationId, idOrName)
      : undefined;
  if (!project || !isVisible(access, project.id)) {
    throw notFound('projectNotFound', `The project '${idOrName.slice(0, 64)}' does not exist or you do not have access to it.`);
  }
  return project;
}

export async function createProject({ app, organization: access, audit }: OrganizationScope, body: z.infer<typeof createProjectBody>): Promise<Project> {
  const now = app.clock.now().toISOString();
  const project: Project = {
    id: randomUUID(),
    organizationId: access.organization.id,
    name: body.name,
    description: body.description ?? '',
    visibility: body.visibility,
    createdAt: now,
    updatedAt: now,
  };
  const event = organizationEvent(app, audit, access.organization, {
    actionId: 'Project.CreateCompleted',
    data: { ProjectId: project.id, ProjectName: project.name, Visibility: project.visibility },
    project,
  });
  try {
    await app.directory.createProject(project, audited(app, TABLES.projects, [event]));
  } catch (error) {
    if (restErrorStatus(error) === 409) {
      throw conflict('projectAlreadyExists', `A project named '${body.name}' already exists in this organization.`);
    }
    throw error;
  }
  return project;
}

export async function updateProject(
  { app, organization: access, audit }: OrganizationScope,
  idOrName: string,
  body: z.infer<typeof updateProjectBody>,
): Promise<Project> {
  const project = await getProject(app, access, idOrName);
  const updated: Project = {
    ...project,
    description: body.description ?? project.description,
    visibility: body.visibility ?? project.visibility,
    updatedAt: app.clock.now().toISOString(),
  };
  const event = organizationEvent(app, audit, access.organization, {
    actionId: 'Project.UpdateCompleted',
    data: {
      ProjectId: project.id,
      ProjectName: project.name,
      PreviousDescription: project.description,
      Description: updated.description,
      PreviousVisibility: project.visibility,
      Visibility: updated.visibility,
    },
    project,
  });
  await app.directory.updateProject(updated, audited(app, TABLES.projects, [event]));
  return updated;
}

export async function memberView(app: AppContext, access: OrganizationAccess, membership: Membership, user?: User) {
  const identity = user ?? (await app.directory.getUser(membership.subjectId));
  const projects = await app.directory.listProjects(access.organization.id);
  const names = new Map(projects.map((project) => [project.id, project.name]));
  return {
    id: membership.subjectId,
    user: {
      subjectKind: 'user' as const,
      principalName: identity?.email ?? '',
      displayName: identity?.displayName ?? membership.subjectId,
      descriptor: subjectDescriptor('user', membership.subjectId),
    },
    groups: membership.groups,
    projectEntitlements: membership.projects
      .filter((project) => names.has(project.id))
      .map((project) => ({
        projectRef: { id: project.id, name: names.get(project.id) ?? '' },
        group: { groupType: project.role },
      })),
  };
}

export async function listMembers(app: AppContext, access: OrganizationAccess) {
  const memberships = (await app.directory.listMemberships(access.organization.id)).filter((membership) => membership.subjectKind === 'user');
  return Promise.all(memberships.map((membership) => memberView(app, access, membership)));
}

async function checkProjects(app: AppContext, access: OrganizationAccess, entitlements: { projectRef: { id: string } }[]) {
  const ids = entitlements.map((entitlement) => entitlement.projectRef.id.toLowerCase());
  if (new Set(ids).size !== ids.length) throw badRequest('duplicateProject', 'A project is listed more than once.');
  const existing = new Set((await app.directory.listProjects(access.organization.id)).map((project) => project.id));
  const missing = ids.find((id) => !existing.has(id));
  if (missing) throw badRequest('projectNotFound', `The project '${missing}' does not exist in this organization.`);
}

/**
 * Adds a person. Someone of the organization's own tenant becomes a member at once; someone of another
 * tenant only gets an invitation, when the organization allows external guests, and joins by
 * accepting it with their own token.
 */
export async function addMember({ app, organization: access, audit }: OrganizationScope, body: z.infer<typeof addMemberBody>) {
  const user = await app.directory.getUserByEmail(body.user.principalName);
  if (!user) throw notFound('identityNotFound', `No identity with the principal name '${body.user.principalName}' is known.`);
  const existing = await app.directory.getMembership(access.organization.id, 'user', user.id);
  if (existing) throw conflict('memberAlreadyExists', `'${user.email}' is already a member of this organization.`);
  await checkProjects(app, access, body.projectEntitlements);
  const groups = [...new Set(body.groups)];
  const projects = body.projectEntitlements.map((entitlement) => ({
    id: entitlement.projectRef.id.toLowerCase(),
    role: entitlement.group.groupType,
  }));
  if (!user.tenantId || user.tenantId !== access.organization.tenantId) {
    if (!access.organization.allowExternalGuests) {
      throw forbidden('externalGuestsNotAllowed', `'${user.email}' belongs to another tenant, and this organization does not allow external guests.`);
    }
    const invitation = {
      organizationId: access.organization.id,
      userId: user.id,
      groups,
      projects,
      invitedBy: audit.actor.id,
      invitedAt: app.clock.now().toISOString(),
    };
    const event = organizationEvent(app, audit, access.organization, {
      actionId: 'Group.InviteGuest',
      data: { MemberId: user.id, MemberDisplayName: user.displayName, TenantId: user.tenantId, Groups: groupsText(groups) },
    });
    await app.directory.saveInvitation(invitation, audited(app, TABLES.members, [event]));
    return { status: 202 as const, body: invitationView(invitation, access.organization, user) };
  }
  const membership = await app.directory.changeMembership(
    access.organization.id,
    'user',
    user.id,
    (current) => {
      if (current) throw conflict('memberAlreadyExists', `'${user.email}' is already a member of this organization.`);
      return { organizationId: access.organization.id, subjectKind: 'user', subjectId: user.id, groups, projects, since: app.clock.now().toISOString() };
    },
    () => [],
    (current, next) => audited(app, TABLES.members, [membershipEvent(app, audit, access.organization, { id: user.id, name: user.displayName }, current, next)]),
  );
  return { status: 201 as const, body: await memberView(app, access, membership as Membership, user) };
}

export function invitationView(invitation: Invitation, organization: Organization, user: User) {
  return {
    organization: { id: organization.id, name: organization.name },
    user: { id: user.id, principalName: user.email, displayName: user.displayName, descriptor: subjectDescriptor('user', user.id) },
    groups: invitation.groups,
    invitedBy: invitation.invitedBy,
    invitedDate: invitation.invitedAt,
    status: 'pending' as const,
  };
}

/** The caller's pending invitations (people of other tenants invited as guests). */
export async function listInvitations(app: AppContext, caller: UserCaller) {
  const user = (await app.directory.getUser(caller.id)) ?? { id: caller.id, email: caller.email, displayName: caller.displayName, tenantId: caller.tenantId };
  const found = await Promise.all(
    (await app.directory.listInvitedOrganizationIds(caller.id)).map(async (organizationId) => {
      const [invitation, organization] = await Promise.all([
        app.directory.getInvitation(organizationId, caller.id),
        app.directory.getOrganizationById(organizationId),
      ]);
      return invitation && organization ? invitationView(invitation, organization, user) : undefined;
    }),
  );
  const value = found.filter((item) => item !== undefined).sort((a, b) => a.organization.name.localeCompare(b.organization.name));
  return { count: value.length, value };
}

/** Accepts the caller's invitation to an organization: only the invited person, with their own token. */
export async function acceptInvitation({ app, caller, audit }: CallerScope<UserCaller>, organizationName: string) {
  const organization = await app.directory.getOrganizationByName(organizationName);
  const invitation = organization ? await app.directory.getInvitation(organization.id, caller.id) : undefined;
  if (!organization || !invitation) throw notFound('invitationNotFound', 'You have no pending invitation to this organization.');
  if (!organization.allowExternalGuests) throw forbidden('externalGuestsNotAllowed', 'This organization no longer allows external guests.');
  try {
    await app.directory.acceptInvitation(invitation, (current, next) =>
      audited(app, TABLES.members, [membershipEvent(app, audit, organization, { id: caller.id, name: caller.displayName }, current, next)]),
    );
  } catch (error) {
    if (restErrorStatus(error) === 404) throw notFound('invitationNotFound', 'You have no pending invitation to this organization.');
    throw error;
  }
  return organizationView(organization);
}

async function requireMember(app: AppContext, access: OrganizationAccess, userId: string): Promise<Membership> {
  const membership = isGuid(userId) ? await app.directory.getMembership(access.organization.id, 'user', userId.toLowerCase()) : undefined;
  if (!membership) throw notFound('memberNotFound', `The user '${userId.slice(0, 64)}' is not a member of this organization.`);
  return membership;
}

const lastAdministrator = () => conflict('lastAdministrator', 'An organization keeps at least one Project Collection Administrator.');

/** Refuses a change that would leave the roster empty; decided inside the guarded membership change. */
function keepAnAdministrator(administrators: readonly string[], subjectId: string, next: Membership | undefined): void {
  const remains = administrators.some((id) => id !== subjectId) || (next?.groups.includes('projectCollectionAdministrators') ?? false);
  if (!remains) throw lastAdministrator();
}

export async function updateMember({ app, organization: access, audit }: OrganizationScope, userId: string, body: z.infer<typeof updateMemberBody>) {
  const membership = await requireMember(app, access, userId);
  if (body.projectEntitlements) await checkProjects(app, access, body.projectEntitlements);
  const member = await memberIdentity(app, membership.subjectId);
  const updated = await app.directory.changeMembership(
    access.organization.id,
    'user',
    membership.subjectId,
    (current, administrators) => {
      if (!current) throw notFound('memberNotFound', `The user '${userId.slice(0, 64)}' is not a member of this organization.`);
      const next: Membership = {
        ...current,
        groups: body.groups ? [...new Set(body.groups)] : current.groups,
        projects: body.projectEntitlements
          ? body.projectEntitlements.map((entitlement) => ({ id: entitlement.projectRef.id.toLowerCase(), role: entitlement.group.groupType }))
          : current.projects,
      };
      keepAnAdministrator(administrators, current.subjectId, next);
      return next;
    },
    () => [],
    (current, next) => audited(app, TABLES.members, [membershipEvent(app, audit, access.organization, member, current, next)]),
  );
  return memberView(app, access, updated as Membership);
}

/**
 * Removes a member. The membership and the administrators roster change in one guarded transaction;
 * the grants the person held here lapse with it (they count only from the membership's start).
 */
export async function removeMember({ app, organization: access, audit }: OrganizationScope, userId: string): Promise<void> {
  const membership = await requireMember(app, access, userId);
  const member = await memberIdentity(app, membership.subjectId);
  await app.directory.changeMembership(
    access.organization.id,
    'user',
    membership.subjectId,
    (current, administrators) => {
      if (!current) throw notFound('memberNotFound', `The user '${userId.slice(0, 64)}' is not a member of this organization.`);
      keepAnAdministrator(administrators, current.subjectId, undefined);
      return undefined;
    },
    () => [],
    (current, next) => audited(app, TABLES.members, [membershipEvent(app, audit, access.organization, member, current, next)]),
  );
}

async function memberIdentity(app: AppContext, userId: string): Promise<{ id: string; name: string }> {
  return { id: userId, name: (await app.directory.getUser(userId))?.displayName ?? userId };
}
