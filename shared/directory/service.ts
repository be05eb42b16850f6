import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { subjectDescriptor, subjectKindOf, type Caller, type UserCaller } from '../auth/caller.js';
import { badRequest, conflict, notFound, restErrorStatus } from '../http/errors.js';
import { ensureCapacityRecord } from '../pipelines/service.js';
import type { OrganizationAccess } from './access.js';
import type { Membership, Organization, Project, User } from './repository.js';
import type { addMemberBody, createOrganizationBody, createProjectBody, updateMemberBody, updateProjectBody } from './schemas.js';

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

/** Any signed-in user may create an organization and becomes its first Project Collection Administrator. */
export async function createOrganization(
  app: AppContext,
  caller: UserCaller,
  body: z.infer<typeof createOrganizationBody>,
): Promise<Organization> {
  const organization: Organization = {
    id: randomUUID(),
    name: body.name,
    description: body.description ?? '',
    createdAt: app.clock.now().toISOString(),
    projectScopedVisibility: false,
  };
  try {
    await app.directory.createOrganization(organization);
  } catch (error) {
    if (restErrorStatus(error) === 409) {
      throw conflict('organizationNameTaken', `The organization name '${body.name}' is not available.`);
    }
    throw error;
  }
  await app.directory.saveUser({ id: caller.id, email: caller.email, displayName: caller.displayName, tenantId: caller.tenantId });
  await app.directory.saveMembership({
    organizationId: organization.id,
    subjectKind: 'user',
    subjectId: caller.id,
    groups: ['projectCollectionAdministrators'],
    projects: [],
  });
  // Every organization has a pipeline capacity record: private defaults, no free public jobs.
  await ensureCapacityRecord(app, organization);
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
  return found.filter((organization): organization is Organization => organization !== undefined)
    .sort((a, b) => a.name.localeCompare(b.name));
}

const isVisible = (access: OrganizationAccess, projectId: string) =>
  !access.isProjectScoped || access.membership.projects.some((project) => project.id === projectId);

export async function listProjects(app: AppContext, access: OrganizationAccess): Promise<Project[]> {
  const projects = await app.directory.listProjects(access.organization.id);
  return projects.filter((project) => isVisible(access, project.id));
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** Finds a project by id or name; one the caller may not see answers exactly like a missing one. */
export async function getProject(app: AppContext, access: OrganizationAccess, idOrName: string): Promise<Project> {
  const organizationId = access.organization.id;
  const project = GUID.test(idOrName)
    ? await app.directory.getProject(organizationId, idOrName)
    : idOrName.length <= 64 && !/[/\\#?\u0000-\u001f]/.test(idOrName)
      ? await app.directory.getProjectByName(organizationId, idOrName)
      : undefined;
  if (!project || !isVisible(access, project.id)) {
    throw notFound('projectNotFound', `The project '${idOrName.slice(0, 64)}' does not exist or you do not have access to it.`);
  }
  return project;
}

export async function createProject(
  app: AppContext,
  access: OrganizationAccess,
  body: z.infer<typeof createProjectBody>,
): Promise<Project> {
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
  try {
    await app.directory.createProject(project);
  } catch (error) {
    if (restErrorStatus(error) === 409) {
      throw conflict('projectAlreadyExists', `A project named '${body.name}' already exists in this organization.`);
    }
    throw error;
  }
  return project;
}

export async function updateProject(
  app: AppContext,
  access: OrganizationAccess,
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
  await app.directory.updateProject(updated);
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
  const memberships = (await app.directory.listMemberships(access.organization.id)).filter(
    (membership) => membership.subjectKind === 'user',
  );
  return Promise.all(memberships.map((membership) => memberView(app, access, membership)));
}

async function checkProjects(app: AppContext, access: OrganizationAccess, entitlements: { projectRef: { id: string } }[]) {
  const ids = entitlements.map((entitlement) => entitlement.projectRef.id.toLowerCase());
  if (new Set(ids).size !== ids.length) throw badRequest('duplicateProject', 'A project is listed more than once.');
  const existing = new Set((await app.directory.listProjects(access.organization.id)).map((project) => project.id));
  const missing = ids.find((id) => !existing.has(id));
  if (missing) throw badRequest('projectNotFound', `The project '${missing}' does not exist in this organization.`);
}

export async function addMember(app: AppContext, access: OrganizationAccess, body: z.infer<typeof addMemberBody>) {
  const user = await app.directory.getUserByEmail(body.user.principalName);
  if (!user) throw notFound('identityNotFound', `No identity with the principal name '${body.user.principalName}' is known.`);
  const existing = await app.directory.getMembership(access.organization.id, 'user', user.id);
  if (existing) throw conflict('memberAlreadyExists', `'${user.email}' is already a member of this organization.`);
  await checkProjects(app, access, body.projectEntitlements);
  const membership: Membership = {
    organizationId: access.organization.id,
    subjectKind: 'user',
    subjectId: user.id,
    groups: [...new Set(body.groups)],
    projects: body.projectEntitlements.map((entitlement) => ({
      id: entitlement.projectRef.id.toLowerCase(),
      role: entitlement.group.groupType,
    })),
  };
  await app.directory.saveMembership(membership);
  return memberView(app, access, membership, user);
}

async function requireMember(app: AppContext, access: OrganizationAccess, userId: string): Promise<Membership> {
  const membership = GUID.test(userId) ? await app.directory.getMembership(access.organization.id, 'user', userId.toLowerCase()) : undefined;
  if (!membership) throw notFound('memberNotFound', `The user '${userId.slice(0, 64)}' is not a member of this organization.`);
  return membership;
}

async function assertAnotherAdministratorRemains(app: AppContext, access: OrganizationAccess, userId: string) {
  const administrators = (await app.directory.listMemberships(access.organization.id)).filter(
    (membership) => membership.subjectKind === 'user' && membership.groups.includes('projectCollectionAdministrators'),
  );
  if (administrators.every((membership) => membership.subjectId === userId)) {
    throw conflict('lastAdministrator', 'An organization keeps at least one Project Collection Administrator.');
  }
}

export async function updateMember(
  app: AppContext,
  access: OrganizationAccess,
  userId: string,
  body: z.infer<typeof updateMemberBody>,
) {
  const membership = await requireMember(app, access, userId);
  if (body.projectEntitlements) await checkProjects(app, access, body.projectEntitlements);
  const groups = body.groups ? [...new Set(body.groups)] : membership.groups;
  if (membership.groups.includes('projectCollectionAdministrators') && !groups.includes('projectCollectionAdministrators')) {
    await assertAnotherAdministratorRemains(app, access, membership.subjectId);
  }
  const updated: Membership = {
    ...membership,
    groups,
    projects: body.projectEntitlements
      ? body.projectEntitlements.map((entitlement) => ({ id: entitlement.projectRef.id.toLowerCase(), role: entitlement.group.groupType }))
      : membership.projects,
  };
  await app.directory.saveMembership(updated);
  return memberView(app, access, updated);
}

export async function removeMember(app: AppContext, access: OrganizationAccess, userId: string): Promise<void> {
  const membership = await requireMember(app, access, userId);
  if (membership.groups.includes('projectCollectionAdministrators')) {
    await assertAnotherAdministratorRemains(app, access, membership.subjectId);
  }
  await app.directory.deleteMembership(access.organization.id, 'user', membership.subjectId);
}
