import { z } from 'zod';
import { redactSecrets } from '../secrets/redaction.js';

/** Names that would collide with host routes or Gatehouse's own top-level paths. */
export const RESERVED_ORGANIZATION_NAMES = new Set(['admin', 'runtime', 'api', 'apis', 'health', 'openapi', 'openapi.json', 'login', 'signin', 'www']);

export const organizationNameSchema = z
  .string()
  .min(1, 'organization name is required')
  .max(50, 'organization names have at most 50 characters')
  .regex(/^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?$/, 'organization names use letters, digits and hyphens, and start and end with a letter or digit')
  .refine((name) => !RESERVED_ORGANIZATION_NAMES.has(name.toLowerCase()), 'this organization name is reserved');

const RESERVED_PROJECT_NAMES = new Set(
  [
    'app_browsers',
    'app_code',
    'app_data',
    'app_globalresources',
    'app_localresources',
    'app_themes',
    'app_webresources',
    'bin',
    'web.config',
    'aux',
    'con',
    'nul',
    'prn',
    'server',
    'signalr',
    'defaultcollection',
    'web.config',
    'web',
    ...Array.from({ length: 9 }, (_, i) => `com${i + 1}`),
    ...Array.from({ length: 9 }, (_, i) => `lpt${i + 1}`),
  ].map((name) => name.toLowerCase()),
);

export const projectNameSchema = z
  .string()
  .min(1, 'project name is required')
  .max(64, 'project names have at most 64 characters')
  .refine(
    (name) => !/[\\/:*?"'<>|;#$@{}&,+=[\]%\u0000-\u001f\u007f]/.test(name),
    'project names may not contain \\ / : * ? " \' < > | ; # $ @ { } & , + = [ ] % or control characters',
  )
  .refine((name) => !name.startsWith('_') && !name.startsWith('.') && !name.endsWith('.'), 'project names may not start with _ or . nor end with .')
  .refine((name) => name.trim() === name, 'project names may not start or end with spaces')
  .refine((name) => !RESERVED_PROJECT_NAMES.has(name.toLowerCase()), 'this project name is reserved');

export const guidSchema = z.uuid();

export const ORGANIZATION_GROUPS = ['projectCollectionAdministrators', 'projectScopedUsers'] as const;
export type OrganizationGroup = (typeof ORGANIZATION_GROUPS)[number];

export const PROJECT_ROLES = ['projectAdministrator', 'projectContributor', 'projectReader'] as const;
export type ProjectRole = (typeof PROJECT_ROLES)[number];

export const projectVisibilitySchema = z.enum(['private', 'public']);
export type ProjectVisibility = z.infer<typeof projectVisibilitySchema>;

export const createOrganizationBody = z
  .object({
    name: organizationNameSchema,
    description: z.string().max(1024).transform(redactSecrets).optional(),
  })
  .strict();

export const createProjectBody = z
  .object({
    name: projectNameSchema,
    description: z.string().max(15000).transform(redactSecrets).optional(),
    visibility: projectVisibilitySchema.default('private'),
  })
  .strict();

export const updateProjectBody = z
  .object({
    description: z.string().max(15000).transform(redactSecrets).optional(),
    visibility: projectVisibilitySchema.optional(),
  })
  .strict()
  .refine((body) => body.description !== undefined || body.visibility !== undefined, 'nothing to update');

const projectEntitlement = z
  .object({
    projectRef: z.object({ id: guidSchema }),
    group: z.object({ groupType: z.enum(PROJECT_ROLES) }).default({ groupType: 'projectContributor' }),
  })
  .strict();

export const addMemberBody = z
  .object({
    user: z.object({ principalName: z.email().max(256) }).strict(),
    groups: z.array(z.enum(ORGANIZATION_GROUPS)).max(ORGANIZATION_GROUPS.length).default([]),
    projectEntitlements: z.array(projectEntitlement).max(200).default([]),
  })
  .strict();

export const updateMemberBody = z
  .object({
    groups: z.array(z.enum(ORGANIZATION_GROUPS)).max(ORGANIZATION_GROUPS.length).optional(),
    projectEntitlements: z.array(projectEntitlement).max(200).optional(),
  })
  .strict()
  .refine((body) => body.groups !== undefined || body.projectEntitlements !== undefined, 'nothing to update');

export const organizationSchema = z.object({
  id: guidSchema,
  name: z.string(),
  description: z.string(),
  createdDate: z.string(),
});

export const projectSchema = z.object({
  id: guidSchema,
  name: z.string(),
  description: z.string(),
  visibility: projectVisibilitySchema,
  state: z.literal('wellFormed'),
  lastUpdateTime: z.string(),
  url: z.string(),
});

export const memberSchema = z.object({
  id: z.string(),
  user: z.object({
    subjectKind: z.literal('user'),
    principalName: z.string(),
    displayName: z.string(),
    descriptor: z.string(),
  }),
  groups: z.array(z.enum(ORGANIZATION_GROUPS)),
  projectEntitlements: z.array(z.object({ projectRef: z.object({ id: z.string(), name: z.string() }), group: z.object({ groupType: z.enum(PROJECT_ROLES) }) })),
});

export const listOf = <T extends z.ZodType>(item: T) => z.object({ count: z.number().int(), value: z.array(item) });

export const organizationSettingsBody = z
  .object({
    limitUserVisibilityToProjects: z.boolean().optional(),
    allowExternalGuests: z.boolean().optional().describe('Whether people of other Entra tenants may be invited (they join by accepting).'),
  })
  .strict()
  .refine((body) => body.limitUserVisibilityToProjects !== undefined || body.allowExternalGuests !== undefined, 'nothing to update');
export const organizationSettingsSchema = z.object({ limitUserVisibilityToProjects: z.boolean(), allowExternalGuests: z.boolean() });

export const invitationSchema = z.object({
  organization: z.object({ id: z.string(), name: z.string() }),
  user: z.object({ id: z.string(), principalName: z.string(), displayName: z.string(), descriptor: z.string() }),
  groups: z.array(z.enum(ORGANIZATION_GROUPS)),
  invitedBy: z.string(),
  invitedDate: z.string(),
  status: z.literal('pending'),
});

const count = (max: number) =>
  z
    .string()
    .regex(/^\d{1,9}$/, 'must be a whole number')
    .transform(Number)
    .pipe(z.number().max(max));

/**
 * Project list paging as Azure DevOps: `$top` (default 100), `$skip`, and `continuationToken`, the
 * position the previous page's `x-ms-continuationtoken` header named (it already counts `$skip`).
 */
export const projectListQuery = z.object({
  $top: count(1000).pipe(z.number().min(1)).default(100),
  $skip: count(1_000_000).default(0),
  continuationToken: count(1_000_000).optional(),
});

const identityIdList = z
  .string()
  .max(50 * 37)
  .transform((value) => value.split(',').map((id) => id.trim().toLowerCase()))
  .pipe(z.array(guidSchema).min(1).max(50));

export const identitySearchQuery = z
  .object({
    searchFilter: z.enum(['General', 'MailAddress', 'DisplayName']).default('General'),
    filterValue: z.string().trim().min(1, 'filterValue is required').max(256).optional(),
    identityIds: identityIdList.optional(),
    projectId: z.string().min(1).max(64).optional(),
  })
  .refine((query) => query.filterValue !== undefined || query.identityIds !== undefined, {
    error: 'give filterValue or identityIds',
    path: ['filterValue'],
  });

export const identitySchema = z.object({
  id: z.string(),
  descriptor: z.string(),
  providerDisplayName: z.string(),
  isActive: z.boolean(),
  properties: z.record(z.string(), z.object({ $type: z.string(), $value: z.string() })),
});

export const organizationUsageSchema = z.object({
  organizationId: z.string(),
  members: z.number().int(),
  servicePrincipals: z.number().int(),
  projects: z.object({ total: z.number().int(), public: z.number().int() }),
  pipelines: z.object({ freeGrantStatus: z.string(), publicParallelJobs: z.number().int(), privateParallelJobs: z.number().int() }),
});
