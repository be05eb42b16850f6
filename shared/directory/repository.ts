import { odata, type TableClient, type TransactionAction } from '@azure/data-tables';
import { TtlCache } from '../cache.js';
import { announceChange } from '../coherence/changes.js';
import type { StorageClients } from '../storage/clients.js';
import { TABLES } from '../storage/names.js';
import { encodeKey, optionalText, parseJsonColumn, readAll, readEntity } from '../storage/entities.js';
import { conditionalWrite, retryLostRaces } from '../storage/conditional.js';
import { organizationNameSchema, type OrganizationGroup, type ProjectRole, type ProjectVisibility } from './schemas.js';

/**
 * Tables:
 * - organizations: PK "org", RK "n_<lower name>" (record), "i_<id>" (id → name) and
 *   "t_<tenant id>_<id>" (the tenant's organizations); one partition so all are written in one
 *   transaction and names stay unique.
 * - projects: PK <organization id>, RK "p_<project id>" (record) and "n_<lower name>" (uniqueness).
 * - members: PK <organization id>, RK "u_<user id>" or "s_<app id>", "inv_<user id>" (a pending
 *   invitation of an external guest) and "administrators" (the roster of Project Collection
 *   Administrators, which every change of a membership rewrites under its ETag in the same
 *   transaction, so no interleaving of removals can leave an organization without one); reverse
 *   index PK "u_<user id>", RK <organization id> for "my organizations", and PK "i_<user id>",
 *   RK <organization id> for "my invitations".
 * - users: PK "u", RK "id_<object id>" (record) and "em_<encoded lower email>" (email → id), one transaction.
 * - serviceprincipals: PK "sp", RK <app id>.
 */

export interface Organization {
  id: string;
  name: string;
  description: string;
  createdAt: string;
  projectScopedVisibility: boolean;
  /** The Entra tenant the organization belongs to: its creator's. */
  tenantId: string;
  /** Whether people of other tenants may be invited (they join only by accepting). */
  allowExternalGuests: boolean;
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
  /**
   * When this membership began. Grants held elsewhere (audit reader, feed permissions) count only if
   * made since, so a removal ends them in the same change and a re-add does not bring them back.
   */
  since: string;
}

/** A pending invitation of a person from another tenant; they join only by accepting it. */
export interface Invitation {
  organizationId: string;
  userId: string;
  groups: OrganizationGroup[];
  projects: ProjectMembership[];
  invitedBy: string;
  invitedAt: string;
}

/**
 * What a membership change decides from the current state: the next membership (undefined removes
 * it), or an error thrown to refuse. `administrators` is the roster before the change.
 */
export type MembershipDecision = (current: Membership | undefined, administrators: readonly string[]) => Membership | undefined;

/**
 * Writes one partition's actions in a transaction. The service passes one that commits the change's
 * audit events with it (audit/outbox.ts); without one, a plain transaction (seeding).
 */
export type Commit = (actions: TransactionAction[]) => Promise<void>;

const ROSTER_ROW = 'administrators';
const isAdministrator = (membership: Membership | undefined) =>
  membership?.subjectKind === 'user' && membership.groups.includes('projectCollectionAdministrators');

const memberRowKey = (kind: SubjectKind, id: string) => `${kind === 'user' ? 'u' : 's'}_${id}`;
const invitationRowKey = (userId: string) => `inv_${userId}`;
const tenantRowKey = (tenantId: string, organizationId: string) => `t_${encodeKey(tenantId.toLowerCase())}_${organizationId}`;

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
    this.organizationCache = new TtlCache(
      () => cache.cacheSeconds * 1000,
      () => 10_000,
    );
    this.membershipCache = new TtlCache(
      () => cache.cacheSeconds * 1000,
      () => 100_000,
    );
    this.now = cache.now;
  }

  /** Drops the cached organization after a change made outside this repository (e.g. through the outbox). */
  async forgetOrganization(name: string): Promise<void> {
    this.organizationCache.delete(name.toLowerCase());
    await announceChange('organization', name.toLowerCase());
  }

  /** Drops entries changed on another instance (the change feed); every entry without a key. */
  dropCached(scope: 'organization' | 'membership', key: string | undefined): void {
    const cache = scope === 'organization' ? this.organizationCache : this.membershipCache;
    if (key === undefined) cache.clear();
    else cache.delete(key);
  }

  /** A name that cannot be an organization's is no organization (and never reaches storage as a key). */
  async getOrganizationByName(name: string): Promise<Organization | undefined> {
    const key = name.toLowerCase();
    const now = this.now();
    // Only organizations found under a valid name are cached, so a hit needs no validation.
    const cached = this.organizationCache.get(key, now);
    if (cached) return cached;
    if (!organizationNameSchema.safeParse(name).success) return undefined;
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
  async createOrganization(
    organization: Organization,
    commit: Commit = (actions) => this.organizations.submitTransaction(actions).then(() => undefined),
  ): Promise<void> {
    await commit([
      ['create', { partitionKey: 'org', rowKey: `n_${organization.name.toLowerCase()}`, ...organizationColumns(organization) }],
      ['create', { partitionKey: 'org', rowKey: `i_${organization.id}`, name: organization.name }],
      ['create', { partitionKey: 'org', rowKey: tenantRowKey(organization.tenantId, organization.id), name: organization.name }],
    ]);
  }

  /** Gives an organization stored before organizations had tenants its tenant (local data kept across versions). */
  async assignTenant(organization: Organization, tenantId: string): Promise<void> {
    await this.forgetOrganization(organization.name);
    await this.organizations.submitTransaction([
      ['update', { partitionKey: 'org', rowKey: `n_${organization.name.toLowerCase()}`, tenantId }, 'Merge'],
      ['upsert', { partitionKey: 'org', rowKey: tenantRowKey(tenantId, organization.id), name: organization.name }, 'Replace'],
    ]);
  }

  /** Removes an organization whose creation could not be completed (no member was ever added). */
  async deleteOrganization(organization: Organization): Promise<void> {
    await this.forgetOrganization(organization.name);
    await this.organizations.submitTransaction([
      ['delete', { partitionKey: 'org', rowKey: `n_${organization.name.toLowerCase()}` }],
      ['delete', { partitionKey: 'org', rowKey: `i_${organization.id}` }],
      ['delete', { partitionKey: 'org', rowKey: tenantRowKey(organization.tenantId, organization.id) }],
    ]);
  }

  /** The organizations of a tenant. */
  async listOrganizationsOfTenant(tenantId: string): Promise<Organization[]> {
    const prefix = `t_${encodeKey(tenantId.toLowerCase())}_`;
    const rows = await readAll<{ name: string }>(this.organizations, odata`PartitionKey eq 'org' and RowKey gt ${prefix} and RowKey lt ${`${prefix}~`}`);
    const found = await Promise.all(rows.map((row) => this.getOrganizationByName(row.name)));
    return found.filter((organization): organization is Organization => organization !== undefined);
  }

  async updateOrganization(organization: Organization): Promise<void> {
    await this.forgetOrganization(organization.name);
    await this.organizations.updateEntity(
      { partitionKey: 'org', rowKey: `n_${organization.name.toLowerCase()}`, ...organizationColumns(organization) },
      'Merge',
    );
  }

  async listProjects(organizationId: string): Promise<Project[]> {
    const rows = await readAll<Record<string, unknown>>(this.projects, odata`PartitionKey eq ${organizationId} and RowKey ge 'p_' and RowKey lt 'p_~'`);
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

  async createProject(project: Project, commit: Commit = (actions) => this.projects.submitTransaction(actions).then(() => undefined)): Promise<void> {
    await commit([
      ['create', { partitionKey: project.organizationId, rowKey: `p_${project.id}`, ...projectColumns(project) }],
      ['create', { partitionKey: project.organizationId, rowKey: `n_${project.name.toLowerCase()}`, projectId: project.id }],
    ]);
  }

  async updateProject(project: Project, commit: Commit = (actions) => this.projects.submitTransaction(actions).then(() => undefined)): Promise<void> {
    await commit([['update', { partitionKey: project.organizationId, rowKey: `p_${project.id}`, ...projectColumns(project) }, 'Merge']]);
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
    const rows = await readAll<Record<string, unknown>>(
      this.members,
      odata`PartitionKey eq ${organizationId} and ((RowKey ge ${'u_'} and RowKey lt ${'u`'}) or (RowKey ge ${'s_'} and RowKey lt ${'s`'}))`,
    );
    return rows.map(toMembership);
  }

  /** Organization ids the subject belongs to (reverse index; verified against the membership by callers). */
  async listOrganizationIdsOf(kind: SubjectKind, subjectId: string): Promise<string[]> {
    const rows = await readAll<Record<string, unknown>>(this.members, odata`PartitionKey eq ${memberRowKey(kind, subjectId)}`);
    return rows.map((row) => row.rowKey as string);
  }

  /**
   * Changes one membership under the administrators roster: reads both, lets `decide` compute the
   * next membership (or throw), and writes the membership and the roster in one transaction on the
   * organization's partition, each conditional on what was read, retrying a lost race. Whatever
   * `decide` refuses (the last administrator) holds against any interleaving. `extra` actions on the
   * same partition commit with it (an accepted invitation is deleted).
   */
  async changeMembership(
    organizationId: string,
    kind: SubjectKind,
    subjectId: string,
    decide: MembershipDecision,
    extra: (current: Membership | undefined) => TransactionAction[] = () => [],
    commitFor: (current: Membership | undefined, next: Membership | undefined) => Commit = () => (actions) =>
      this.members.submitTransaction(actions).then(() => undefined),
  ): Promise<Membership | undefined> {
    const rowKey = memberRowKey(kind, subjectId);
    const committed = await retryLostRaces(async () => {
      const [rosterRow, row] = await Promise.all([
        readEntity<{ ids: string }>(this.members, organizationId, ROSTER_ROW),
        readEntity<Record<string, unknown>>(this.members, organizationId, rowKey),
      ]);
      const current = row ? toMembership(row) : undefined;
      const administrators = rosterRow ? parseJsonColumn<string[]>(rosterRow.ids, []) : await this.administratorsFromRows(organizationId);
      const next = decide(current, administrators);
      const nextAdministrators = administrators.filter((id) => id !== subjectId);
      if (isAdministrator(next)) nextAdministrators.push(subjectId);
      const actions: TransactionAction[] = [...extra(current)];
      if (next) {
        actions.push(conditionalWrite(membershipEntity(next), row?.etag));
      } else if (row) {
        // Unconditional is enough: the roster row's ETag serialises every membership change of the organization.
        actions.push(['delete', { partitionKey: organizationId, rowKey }]);
      }
      const roster = { partitionKey: organizationId, rowKey: ROSTER_ROW, ids: JSON.stringify(nextAdministrators.sort()) };
      actions.push(conditionalWrite(roster, rosterRow?.etag));
      if (next) await this.members.upsertEntity({ partitionKey: rowKey, rowKey: organizationId }, 'Replace');
      this.membershipCache.delete(membershipKey(organizationId, kind, subjectId));
      await commitFor(current, next)(actions);
      return { next, removed: !next && row !== undefined };
    });
    this.membershipCache.delete(membershipKey(organizationId, kind, subjectId));
    await announceChange('membership', membershipKey(organizationId, kind, subjectId));
    if (committed.removed) await this.members.deleteEntity(rowKey, organizationId).catch(() => undefined);
    return committed.next;
  }

  /** The roster of an organization written before the roster row existed. */
  private async administratorsFromRows(organizationId: string): Promise<string[]> {
    return (await this.listMemberships(organizationId)).filter(isAdministrator).map((membership) => membership.subjectId);
  }

  /** Adds or replaces a membership (seeding and ordinary changes); see changeMembership. */
  async saveMembership(membership: Omit<Membership, 'since'> & { since?: string }): Promise<void> {
    await this.changeMembership(membership.organizationId, membership.subjectKind, membership.subjectId, (current) => ({
      ...membership,
      since: current?.since ?? membership.since ?? new Date(this.now()).toISOString(),
    }));
  }

  async deleteMembership(organizationId: string, kind: SubjectKind, subjectId: string): Promise<void> {
    await this.changeMembership(organizationId, kind, subjectId, () => undefined);
  }

  // ---- invitations ----------------------------------------------------------------------------------

  async saveInvitation(invitation: Invitation, commit: Commit = (actions) => this.members.submitTransaction(actions).then(() => undefined)): Promise<void> {
    await this.members.upsertEntity({ partitionKey: `i_${invitation.userId}`, rowKey: invitation.organizationId }, 'Replace');
    await commit([
      [
        'upsert',
        {
          partitionKey: invitation.organizationId,
          rowKey: invitationRowKey(invitation.userId),
          userId: invitation.userId,
          groups: JSON.stringify(invitation.groups),
          projects: JSON.stringify(invitation.projects),
          invitedBy: invitation.invitedBy,
          invitedAt: invitation.invitedAt,
        },
        'Replace',
      ],
    ]);
  }

  async getInvitation(organizationId: string, userId: string): Promise<Invitation | undefined> {
    const row = await readEntity<Record<string, unknown>>(this.members, organizationId, invitationRowKey(userId));
    return row ? toInvitation(row) : undefined;
  }

  /** Organization ids with a pending invitation for the user (reverse index; verified by callers). */
  async listInvitedOrganizationIds(userId: string): Promise<string[]> {
    const rows = await readAll<Record<string, unknown>>(this.members, odata`PartitionKey eq ${`i_${userId}`}`);
    return rows.map((row) => String(row.rowKey));
  }

  /** Accepting: the membership is created and the invitation deleted in one transaction. */
  async acceptInvitation(invitation: Invitation, commitFor?: (current: Membership | undefined, next: Membership | undefined) => Commit): Promise<Membership> {
    const accepted = await this.changeMembership(
      invitation.organizationId,
      'user',
      invitation.userId,
      (current) =>
        current ?? {
          organizationId: invitation.organizationId,
          subjectKind: 'user',
          subjectId: invitation.userId,
          groups: invitation.groups,
          projects: invitation.projects,
          since: new Date(this.now()).toISOString(),
        },
      () => [['delete', { partitionKey: invitation.organizationId, rowKey: invitationRowKey(invitation.userId) }]],
      commitFor,
    );
    await this.members.deleteEntity(`i_${invitation.userId}`, invitation.organizationId).catch(() => undefined);
    return accepted as Membership;
  }

  async getUser(id: string): Promise<User | undefined> {
    const row = await readEntity<Record<string, unknown>>(this.users, 'u', `id_${id.toLowerCase()}`);
    return row ? toUser(row) : undefined;
  }

  async getUserByEmail(email: string): Promise<User | undefined> {
    const index = await readEntity<{ userId: string }>(this.users, 'u', emailRowKey(email));
    return index ? this.getUser(index.userId) : undefined;
  }

  /** Inserts or refreshes an identity record and its email index in one transaction. */
  async saveUser(user: User): Promise<void> {
    const actions: TransactionAction[] = [
      ['upsert', { partitionKey: 'u', rowKey: `id_${user.id}`, email: user.email, displayName: user.displayName, tenantId: user.tenantId }, 'Replace'],
      ['upsert', { partitionKey: 'u', rowKey: emailRowKey(user.email), userId: user.id }, 'Replace'],
    ];
    await this.users.submitTransaction(actions);
  }

  async getServicePrincipal(appId: string): Promise<ServicePrincipal | undefined> {
    const row = await readEntity<Record<string, unknown>>(this.servicePrincipals, 'sp', appId.toLowerCase());
    return row ? { appId: row.rowKey as string, displayName: String(row.displayName), roles: parseJsonColumn<string[]>(row.roles, []) } : undefined;
  }

  async saveServicePrincipal(principal: ServicePrincipal): Promise<void> {
    await this.servicePrincipals.upsertEntity(
      { partitionKey: 'sp', rowKey: principal.appId, displayName: principal.displayName, roles: JSON.stringify(principal.roles) },
      'Replace',
    );
  }
}

const emailRowKey = (email: string) => `em_${encodeKey(email.toLowerCase())}`;

function organizationColumns(organization: Organization) {
  return {
    id: organization.id,
    name: organization.name,
    description: organization.description,
    createdAt: organization.createdAt,
    projectScopedVisibility: organization.projectScopedVisibility,
    tenantId: organization.tenantId,
    allowExternalGuests: organization.allowExternalGuests,
  };
}

function membershipEntity(membership: Membership) {
  return {
    partitionKey: membership.organizationId,
    rowKey: memberRowKey(membership.subjectKind, membership.subjectId),
    subjectKind: membership.subjectKind,
    subjectId: membership.subjectId,
    groups: JSON.stringify(membership.groups),
    projects: JSON.stringify(membership.projects),
    since: membership.since,
  };
}

function toInvitation(row: Record<string, unknown>): Invitation {
  return {
    organizationId: String(row.partitionKey),
    userId: String(row.userId),
    groups: parseJsonColumn<OrganizationGroup[]>(row.groups, []),
    projects: parseJsonColumn<ProjectMembership[]>(row.projects, []),
    invitedBy: optionalText(row.invitedBy),
    invitedAt: optionalText(row.invitedAt),
  };
}

function toOrganization(row: Record<string, unknown>): Organization {
  return {
    id: String(row.id),
    name: String(row.name),
    description: optionalText(row.description),
    createdAt: String(row.createdAt),
    projectScopedVisibility: row.projectScopedVisibility === true,
    tenantId: optionalText(row.tenantId),
    allowExternalGuests: row.allowExternalGuests === true,
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
    description: optionalText(row.description),
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
    since: optionalText(row.since),
  };
}

function toUser(row: Record<string, unknown>): User {
  return {
    id: String(row.rowKey).slice('id_'.length),
    email: String(row.email),
    displayName: String(row.displayName),
    tenantId: optionalText(row.tenantId),
  };
}
