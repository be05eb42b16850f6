import type { AppContext } from '../shared/app-context.js';
import type { Membership, Project } from '../shared/directory/repository.js';
import type { OrganizationGroup, ProjectRole } from '../shared/directory/schemas.js';
import { restErrorStatus } from '../shared/http/errors.js';
import { SERVICE_ROLES } from '../shared/auth/roles.js';
import { ensureCapacityRecord } from '../shared/pipelines/service.js';

/** The demo tenants: contoso's (the default for local tokens) and fabrikam's, so cross-tenant rules can be tried. */
export const DEMO_TENANT_ID = '72f988bf-86f1-41af-91ab-2d7cd011db47';
export const FABRIKAM_TENANT_ID = '3c1d5e7f-9a2b-4c6d-8e0f-1a3b5c7d9e44';

export const DEMO_ORGANIZATIONS = [
  {
    id: '0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11',
    name: 'contoso',
    tenantId: DEMO_TENANT_ID,
    description: 'Contoso demo organization',
    projects: [
      { id: '1b2c3d4e-0000-4000-8000-000000000001', name: 'web', visibility: 'private' },
      { id: '1b2c3d4e-0000-4000-8000-000000000002', name: 'api', visibility: 'private' },
      { id: '1b2c3d4e-0000-4000-8000-000000000003', name: 'oss', visibility: 'public' },
    ],
  },
  {
    id: '5e6f7a8b-3c4d-4e5f-8a9b-0c1d2e3f4a22',
    name: 'fabrikam',
    tenantId: FABRIKAM_TENANT_ID,
    description: 'Fabrikam demo organization',
    projects: [{ id: '2c3d4e5f-0000-4000-8000-000000000001', name: 'shop', visibility: 'private' }],
  },
] as const;

interface DemoUser {
  id: string;
  email: string;
  displayName: string;
  tenantId: string;
  /** The organization the person is a member of (null: none). */
  organization: string | null;
  /** App roles assigned to the person (the `roles` claim of their tokens). */
  roles?: readonly string[];
  groups: OrganizationGroup[];
  projects: { name: string; role: ProjectRole }[];
}

export const DEMO_USERS: readonly DemoUser[] = [
  {
    id: 'a11ce000-0000-4000-8000-00000000000a',
    email: 'alice@contoso.com',
    displayName: 'Alice Admin',
    tenantId: DEMO_TENANT_ID,
    organization: 'contoso',
    groups: ['projectCollectionAdministrators'],
    projects: [],
  },
  {
    id: 'b0b00000-0000-4000-8000-00000000000b',
    email: 'bob@contoso.com',
    displayName: 'Bob Builder',
    tenantId: DEMO_TENANT_ID,
    organization: 'contoso',
    groups: [],
    projects: [
      { name: 'web', role: 'projectContributor' },
      { name: 'api', role: 'projectContributor' },
    ],
  },
  {
    id: 'ca401000-0000-4000-8000-00000000000c',
    email: 'carol@contoso.com',
    displayName: 'Carol Scoped',
    tenantId: DEMO_TENANT_ID,
    organization: 'contoso',
    groups: ['projectScopedUsers'],
    projects: [{ name: 'web', role: 'projectContributor' }],
  },
  {
    id: 'da7e0000-0000-4000-8000-00000000000d',
    email: 'dave@contoso.com',
    displayName: 'Dave Developer',
    tenantId: DEMO_TENANT_ID,
    organization: 'contoso',
    groups: [],
    projects: [{ name: 'api', role: 'projectContributor' }],
  },
  {
    id: '7e4a0000-0000-4000-8000-00000000007a',
    email: 'tina@contoso.com',
    displayName: 'Tina Tenant',
    tenantId: DEMO_TENANT_ID,
    organization: null,
    groups: [],
    projects: [],
    roles: ['Gatehouse.TenantAdministrator'],
  },
  {
    id: 'e1140000-0000-4000-8000-00000000000e',
    email: 'erin@fabrikam.com',
    displayName: 'Erin Fabrikam',
    tenantId: FABRIKAM_TENANT_ID,
    organization: 'fabrikam',
    groups: ['projectCollectionAdministrators'],
    projects: [{ name: 'shop', role: 'projectAdministrator' }],
  },
];

/** App roles Gatehouse understands, as they appear in the `roles` claim of app-only tokens. */
export const APP_ROLES = {
  pipelines: 'Gatehouse.Pipelines',
  auditIngest: 'Gatehouse.AuditIngest',
  /** Reads an organization's audit log (SIEM exports); no seeded principal holds it. */
  auditRead: 'Gatehouse.AuditRead',
  introspection: 'Gatehouse.TokenIntrospection',
  /** Service operators (also assignable to users): free pipeline grant reviews. */
  operator: SERVICE_ROLES.operator,
} as const;

export const DEMO_SERVICE_PRINCIPALS = [
  {
    appId: 'f1e2d3c4-0000-4000-8000-0000000000f1',
    name: 'pipelines',
    roles: [APP_ROLES.pipelines, APP_ROLES.auditIngest],
    organizations: ['contoso', 'fabrikam'],
  },
  { appId: 'f1e2d3c4-0000-4000-8000-0000000000f2', name: 'gitserver', roles: [APP_ROLES.introspection], organizations: ['contoso', 'fabrikam'] },
] as const;

async function ignoreConflict(action: Promise<unknown>): Promise<void> {
  try {
    await action;
  } catch (error) {
    if (restErrorStatus(error) !== 409) throw error;
  }
}

/** Seeds the demo organizations, projects, people and service principals; repeating it changes nothing. */
export async function seedDemoData(app: AppContext): Promise<void> {
  const createdAt = app.clock.now().toISOString();
  for (const organization of DEMO_ORGANIZATIONS) {
    const organizationRecord = {
      id: organization.id,
      name: organization.name,
      description: organization.description,
      createdAt,
      projectScopedVisibility: false,
      tenantId: organization.tenantId,
      allowExternalGuests: false,
    };
    await ignoreConflict(app.directory.createOrganization(organizationRecord));
    const stored = await app.directory.getOrganizationByName(organization.name);
    if (stored && !stored.tenantId) await app.directory.assignTenant(stored, organization.tenantId);
    await ensureCapacityRecord(app, organization);
    for (const project of organization.projects) {
      const record: Project = { ...project, organizationId: organization.id, description: '', createdAt, updatedAt: createdAt };
      await ignoreConflict(app.directory.createProject(record));
    }
  }
  for (const user of DEMO_USERS) {
    await app.directory.saveUser({ id: user.id, email: user.email, displayName: user.displayName, tenantId: user.tenantId });
    const organization = DEMO_ORGANIZATIONS.find((candidate) => candidate.name === user.organization);
    if (!organization) continue;
    if (await app.directory.getMembership(organization.id, 'user', user.id)) continue;
    const projects: Membership['projects'] = user.projects.map((membership) => {
      const project = organization.projects.find((candidate) => candidate.name === membership.name);
      return { id: project?.id ?? '', role: membership.role };
    });
    await app.directory.saveMembership({ organizationId: organization.id, subjectKind: 'user', subjectId: user.id, groups: user.groups, projects });
  }
  for (const principal of DEMO_SERVICE_PRINCIPALS) {
    await app.directory.saveServicePrincipal({ appId: principal.appId, displayName: principal.name, roles: [...principal.roles] });
    for (const name of principal.organizations) {
      const organization = DEMO_ORGANIZATIONS.find((candidate) => candidate.name === name);
      if (!organization || (await app.directory.getMembership(organization.id, 'servicePrincipal', principal.appId))) continue;
      await app.directory.saveMembership({
        organizationId: organization.id,
        subjectKind: 'servicePrincipal',
        subjectId: principal.appId,
        groups: [],
        projects: [],
      });
    }
  }
}
