import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { TtlCache } from '../cache.js';
import type { StorageClients } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { parseJsonColumn, readAll, readEntity } from '../storage/entities.js';
import type { OrganizationGroup, ProjectRole, ProjectVisibility } from './schemas.js';

/**
 * Tables:
 * - organizations: PK "org", RK "n_<lower name>" (record) and "i_<id>" (id → name); one partition so
 *   both are written in one transaction and names stay unique.
 * - projects: PK <organization id>, RK "p_<project id>" (record) and "n_<lower name>" (uniqueness).
 * - members: PK <organization id>, RK "u_<user id>" or "s_<app id>"; reverse index PK "u_<user id>",
 *   RK <organization id> for "my organizations".
 * - users: PK "u", RK "id_<object id>" (record) and "em_<lower email>" (email → id), one transaction.
 * - serviceprincipals: PK "sp", RK <app id>.
 */

export interface Organization {
  id: string;
  name: string;
  description: string;
  createdAt: string;
  projectScopedVisibility: boolean;
}

export interface Project {
  id: string;
  organizationId: string;
  name: string;
  description: string;
  visibility: ProjectVisibility;
  createdAt: string;
  updatedAt: string;
}

export interface User {
  id: string;
  email: string;
  displayName: string;
  tenantId: string;
}

export interface ServicePrincipal {
  appId: string;
  displayName: string;
  roles: string[];
}

export type SubjectKind = 'user' | 'servicePrincipal';

export interface ProjectMembership {
  id: string;
  role: ProjectRole;
}

export interface Membership {
  organizationId: string;
  subjectKind: SubjectKind;
  subjectId: string;
  groups: OrganizationGroup[];
  projects: ProjectMembership[];
}

const memberRowKey = (kind: SubjectKind, id: string) => `${kind === 'user' ? 'u' : 's'}_${id}`;

/**
 * Organizations and memberships are read on every organization-scoped request, so they are kept for
 * `cacheSeconds` (bounded). Writes through this repository drop their entries at once; a change
 * made by another instance is seen after at most `cacheSeconds` (DIRECTORY_CACHE_SECONDS).
 */
export interface DirectoryCacheOptions {
  readonly cacheSeconds: number;
  readonly now: () => number;
}

const membershipKey = (organizationId: string, kind: SubjectKind, subjectId: string) => `${organizationId}|${kind}|${subjectId}`;

export class DirectoryRepository {
  private readonly organizations: TableClient;
  private readonly projects: TableClient;
  private readonly members: TableClient;
  private readonly users: TableClient;
  private readonly servicePrincipals: TableClient;
  private readonly organizationCache: TtlCache<Organization | undefined>;
  private readonly membershipCache: TtlCache<Membership | undefined>;
  private readonly now: () => number;

  constructor(storage: StorageClients, cache: DirectoryCacheOptions = { cacheSeconds: 0, now: Date.now }) {
    this.organizations = storage.table(TABLES.organizations);
    this.projects = storage.table(TABLES.projects);
    this.members = storage.table(TABLES.members);
    this.users = storage.table(TABLES.users);
    this.servicePrincipals = storage.table(TABLES.servicePrincipals);
    this.organizationCache = new TtlCache(() => cache.cacheSeconds * 1000, () => 10_000);
    this.membershipCache = new TtlCache(() => cache.cacheSeconds * 1000, () => 100_000);
    this.now = cache.now;
  }

  /** Drops the cached organization after a change made outside this repository (e.g. through the outbox). */
  forgetOrganization(name: string): void {
    this.organizationCache.delete(name.toLowerCase());
  }

  async getOrganizationByName(name: string): Promise<Organization | undefined> {
    const key = name.toLowerCase();
    const now = this.now();
    const cached = this.organizationCache.get(key, now);
    if (cached) return cached;
    const row = await readEntity<Record<string, unknown>>(this.organizations, 'org', `n_${key}`);
    const organization = row ? toOrganization(row) : undefined;
    if (organization) this.organizationCache.set(key, organization, now);
    return organization;
  }

  async getOrganizationById(id: string): Promise<Organization | undefined> {
    const index = await readEntity<{ name: string }>(this.organizations, 'org', `i_${id}`);
    return index ? this.getOrganizationByName(index.name) : undefined;
  }

  /** Creates the organization; fails with 409 from storage when the name is taken. */
  async createOrganization(organization: Organization): Promise<void> {
    await this.organizations.submitTransaction([
      ['create', { partitionKey: 'org', rowKey: `n_${organization.name.toLowerCase()}`, ...organizationColumns(organization) }],
      ['create', { partitionKey: 'org', rowKey: `i_${organization.id}`, name: organization.name }],
    ]);
  }

  async updateOrganization(organization: Organization): Promise<void> {
    this.forgetOrganization(organization.name);
    await this.organizations.updateEntity(
      { partitionKey: 'org', rowKey: `n_${organization.name.toLowerCase()}`, ...organizationColumns(organization) },
      'Merge',
    );
  }

  async listProjects(organizationId: string): Promise<Project[]> {
    const rows = await readAll<Record<string, unknown>>(
      this.projects,
      odata`PartitionKey eq ${organizationId} and RowKey ge 'p_' and RowKey lt 'p_~'`,
    );
    return rows.map(toProject).sort((a, b) => a.name.localeCompare(b.name));
  }

  async getProject(organizationId: string, projectId: string): Promise<Project | undefined> {
    const row = await readEntity<Record<string, unknown>>(this.projects, organizationId, `p_${projectId.toLowerCase()}`);
    return row ? toProject(row) : undefined;
  }

  async getProjectByName(organizationId: string, name: string): Promise<Project | undefined> {
    const index = await readEntity<{ projectId: string }>(this.projects, organizationId, `n_${name.toLowerCase()}`);
    return index ? this.getProject(organizationId, index.projectId) : undefined;
  }

  async createProject(project: Project): Promise<void> {
    await this.projects.submitTransaction([
      ['create', { partitionKey: project.organizationId, rowKey: `p_${project.id}`, ...projectColumns(project) }],
      ['create', { partitionKey: project.organizationId, rowKey: `n_${project.name.toLowerCase()}`, projectId: project.id }],
    ]);
  }

  async updateProject(project: Project): Promise<void> {
    await this.projects.updateEntity(
      { partitionKey: project.organizationId, rowKey: `p_${project.id}`, ...projectColumns(project) },
      'Merge',
    );
  }

  async getMembership(organizationId: string, kind: SubjectKind, subjectId: string): Promise<Membership | undefined> {
    const key = membershipKey(organizationId, kind, subjectId);
    const now = this.now();
    const cached = this.membershipCache.get(key, now);
    if (cached) return cached;
    const row = await readEntity<Record<string, unknown>>(this.members, organizationId, memberRowKey(kind, subjectId));
    const membership = row ? toMembership(row) : undefined;
    if (membership) this.membershipCache.set(key, membership, now);
    return membership;
  }

  async listMemberships(organizationId: string): Promise<Membership[]> {
    const rows = await readAll<Record<string, unknown>>(this.members, odata`PartitionKey eq ${organizationId}`);
    return rows.map(toMembership);
  }

  /** Organization ids the subject belongs to (reverse index; verified against the membership by callers). */
  async listOrganizationIdsOf(kind: SubjectKind, subjectId: string): Promise<string[]> {
    const rows = await readAll<Record<string, unknown>>(this.members, odata`PartitionKey eq ${memberRowKey(kind, subjectId)}`);
    return rows.map((row) => row.rowKey as string);
  }

  async saveMembership(membership: Membership): Promise<void> {
    this.membershipCache.delete(membershipKey(membership.organizationId, membership.subjectKind, membership.subjectId));
    const rowKey = memberRowKey(membership.subjectKind, membership.subjectId);
    await this.members.upsertEntity({ partitionKey: rowKey, rowKey: membership.organizationId }, 'Replace');
    await this.members.upsertEntity(
      {
        partitionKey: membership.organizationId,
        rowKey,
        subjectKind: membership.subjectKind,
        subjectId: membership.subjectId,
        groups: JSON.stringify(membership.groups),
        projects: JSON.stringify(membership.projects),
      },
      'Replace',
    );
  }

  async deleteMembership(organizationId: string, kind: SubjectKind, subjectId: string): Promise<void> {
    this.membershipCache.delete(membershipKey(organizationId, kind, subjectId));
    const rowKey = memberRowKey(kind, subjectId);
    await this.members.deleteEntity(organizationId, rowKey);
    await this.members.deleteEntity(rowKey, organizationId).catch(() => undefined);
  }

  async getUser(id: string): Promise<User | undefined> {
    const row = await readEntity<Record<string, unknown>>(this.users, 'u', `id_${id.toLowerCase()}`);
    return row ? toUser(row) : undefined;
  }

  async getUserByEmail(email: string): Promise<User | undefined> {
    const index = await readEntity<{ userId: string }>(this.users, 'u', `em_${email.toLowerCase()}`);
    return index ? this.getUser(index.userId) : undefined;
  }

  /** Inserts or refreshes an identity record and its email index in one transaction. */
  async saveUser(user: User): Promise<void> {
    const actions: TransactionAction[] = [
      ['upsert', { partitionKey: 'u', rowKey: `id_${user.id}`, email: user.email, displayName: user.displayName, tenantId: user.tenantId }, 'Replace'],
      ['upsert', { partitionKey: 'u', rowKey: `em_${user.email.toLowerCase()}`, userId: user.id }, 'Replace'],
    ];
    await this.users.submitTransaction(actions);
  }

  async getServicePrincipal(appId: string): Promise<ServicePrincipal | undefined> {
    const row = await readEntity<Record<string, unknown>>(this.servicePrincipals, 'sp', appId.toLowerCase());
    return row
      ? { appId: row.rowKey as string, displayName: String(row.displayName), roles: parseJsonColumn<string[]>(row.roles, []) }
      : undefined;
  }

  async saveServicePrincipal(principal: ServicePrincipal): Promise<void> {
    await this.servicePrincipals.upsertEntity(
      { partitionKey: 'sp', rowKey: principal.appId, displayName: principal.displayName, roles: JSON.stringify(principal.roles) },
      'Replace',
    );
  }
}

function organizationColumns(organization: Organization) {
  return {
    id: organization.id,
    name: organization.name,
    description: organization.description,
    createdAt: organization.createdAt,
    projectScopedVisibility: organization.projectScopedVisibility,
  };
}

function toOrganization(row: Record<string, unknown>): Organization {
  return {
    id: String(row.id),
    name: String(row.name),
    description: String(row.description ?? ''),
    createdAt: String(row.createdAt),
    projectScopedVisibility: row.projectScopedVisibility === true,
  };
}

function projectColumns(project: Project) {
  return {
    id: project.id,
    name: project.name,
    description: project.description,
    visibility: project.visibility,
    createdAt: project.createdAt,
    updatedAt: project.updatedAt,
  };
}

function toProject(row: Record<string, unknown>): Project {
  return {
    id: String(row.id),
    organizationId: String(row.partitionKey),
    name: String(row.name),
    description: String(row.description ?? ''),
    visibility: row.visibility === 'public' ? 'public' : 'private',
    createdAt: String(row.createdAt),
    updatedAt: String(row.updatedAt ?? row.createdAt),
  };
}

function toMembership(row: Record<string, unknown>): Membership {
  return {
    organizationId: String(row.partitionKey),
    subjectKind: row.subjectKind === 'servicePrincipal' ? 'servicePrincipal' : 'user',
    subjectId: String(row.subjectId),
    groups: parseJsonColumn<OrganizationGroup[]>(row.groups, []),
    projects: parseJsonColumn<ProjectMembership[]>(row.projects, []),
  };
}

function toUser(row: Record<string, unknown>): User {
  return {
    id: String(row.rowKey).slice('id_'.length),
    email: String(row.email),
    displayName: String(row.displayName),
    tenantId: String(row.tenantId ?? ''),
  };
}
