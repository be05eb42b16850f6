import { randomUUID } from 'node:crypto';
import type { TableClient, TransactionAction } from '@azure/data-tables';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import type { Caller } from '../auth/caller.js';
import type { OrganizationAccess } from '../directory/access.js';
import type { OrganizationScope } from '../request-scope.js';
import type { Project } from '../directory/repository.js';
import { getProject } from '../directory/service.js';
import { badRequest, conflict, forbidden, notFound, restErrorStatus } from '../http/errors.js';
import { changeEntity } from '../storage/conditional.js';
import type { ApiVersionRange } from '../http/api-versions.js';
import { parseJsonColumn, readAll, readEntity } from '../storage/entities.js';
import { TABLES } from '../storage/names.js';
import { organizationEvent } from '../audit/context.js';
import { commitWithEvents } from '../audit/outbox.js';
import { redactSecrets } from '../secrets/redaction.js';
import { takeCreationBudget } from '../http/rate-limit.js';
import { trimTrailing } from '../text.js';
import { isGuid } from '../ids.js';

/**
 * Package feeds, scoped to an organization or one of its projects, each with an ordered list of
 * upstream sources: the public npm registry (its location is the NPM_UPSTREAM_URL setting, so a feed
 * can never be pointed at an arbitrary host) or another feed of the same organization.
 *
 * Table `feeds`: PK <organization id>; RK `f_<feed id>` (the record) and `n_<project id | org>_<lower
 * name>` (the name index, written in the same transaction so names stay unique within their scope).
 */

/** The feed management API, from its first version (4.1). */
export const FEED_API_VERSIONS: ApiVersionRange = { min: '4.1', max: '7.2', released: '7.1', resourceVersion: 1 };
/** The npm upstreaming behavior API, from its first spec (6.1); GA at 7.1 (Microsoft's released client asks 7.0). */
export const UPSTREAMING_API_VERSIONS: ApiVersionRange = { min: '6.1', max: '7.2', released: '7.1', resourceVersion: 1 };

export const PACKAGING_READ_SCOPES = ['vso.packaging', 'vso.packaging_write', 'vso.packaging_manage', 'app_token'] as const;
export const PACKAGING_WRITE_SCOPES = ['vso.packaging_write', 'vso.packaging_manage', 'app_token'] as const;
export const PACKAGING_MANAGE_SCOPES = ['vso.packaging_manage', 'app_token'] as const;

/**
 * Endpoint access of the packaging APIs, by what a call does: organization members (project-scoped
 * users too) with a user token holding one of the scopes, or a PAT with the named one (or a broader).
 */
export const PACKAGING_ACCESS = {
  read: { users: { scopes: PACKAGING_READ_SCOPES }, pats: { scopes: ['vso.packaging'] }, organization: 'member', projectScopedUsers: 'allowed' },
  write: { users: { scopes: PACKAGING_WRITE_SCOPES }, pats: { scopes: ['vso.packaging_write'] }, organization: 'member', projectScopedUsers: 'allowed' },
  manage: { users: { scopes: PACKAGING_MANAGE_SCOPES }, pats: { scopes: ['vso.packaging_manage'] }, organization: 'member', projectScopedUsers: 'allowed' },
} as const;

export type UpstreamSource =
  | { readonly id: string; readonly name: string; readonly type: 'public' }
  | { readonly id: string; readonly name: string; readonly type: 'internal'; readonly feedId: string };

export interface Feed {
  readonly id: string;
  readonly organizationId: string;
  /** '' for an organization-scoped feed. */
  readonly projectId: string;
  readonly name: string;
  readonly description: string;
  readonly upstreamEnabled: boolean;
  readonly upstreams: readonly UpstreamSource[];
  /** Feed owners: administer the feed and publish (Project Collection Administrators always may). */
  readonly owners: readonly string[];
  /** May publish and change dist-tags. */
  readonly contributors: readonly string[];
  /**
   * When each listed person was given their role. A role counts only if given during the person's
   * current membership, so removal from the organization ends it and a re-add does not bring it back.
   */
  readonly grantedAt: Readonly<Record<string, string>>;
  readonly createdAt: string;
  readonly updatedAt: string;
}

/** Columns added after the first feeds were written are optional. */
interface FeedRow {
  id: string;
  projectId?: string;
  name: string;
  description?: string;
  upstreamEnabled?: boolean;
  upstreams: string;
  owners: string;
  contributors: string;
  grantedAt?: string;
  createdAt: string;
  updatedAt: string;
}

const ORG_SCOPE = 'org';
const feedRowKey = (id: string) => `f_${id.toLowerCase()}`;
const nameRowKey = (projectId: string, name: string) => `n_${projectId || ORG_SCOPE}_${name.toLowerCase()}`;

export const feedNameSchema = z
  .string()
  .min(1, 'a feed name is required')
  .max(64, 'feed names have at most 64 characters')
  .regex(/^[A-Za-z0-9][A-Za-z0-9._-]*$/, 'feed names use letters, digits, . _ and -, and start with a letter or digit');

/**
 * Fields of Azure DevOps' Feed / FeedUpdate / UpstreamSource models that Gatehouse accepts and ignores
 * (its clients send whole models); any other unknown field is a 400 (see shared/http/body-rules.ts).
 */
const ignoredFields = (names: readonly string[]) =>
  Object.fromEntries(names.map((name) => [name, z.unknown().optional().describe('Azure DevOps model field; accepted and ignored.')]));
const FEED_MODEL_IGNORED = [
  'id',
  'url',
  '_links',
  'badgesEnabled',
  'capabilities',
  'defaultViewId',
  'deletedDate',
  'fullyQualifiedId',
  'fullyQualifiedName',
  'hideDeletedPackageVersions',
  'isReadOnly',
  'permissions',
  'project',
  'upstreamEnabledChangedDate',
  'view',
  'viewId',
  'viewName',
  'allowUpstreamNameConflict',
] as const;

const upstreamSourceInput = z
  .object({
    name: z.string().trim().min(1).max(64).optional(),
    protocol: z.string().regex(/^npm$/i, "only 'npm' upstream sources are supported").optional(),
    upstreamSourceType: z
      .string()
      .regex(/^(public|internal)$/i, "must be 'public' or 'internal'")
      .transform((v) => v.toLowerCase() as 'public' | 'internal'),
    /** Public sources: optional, and when given it must be the configured public registry. */
    location: z.string().max(2048).optional(),
    /** Internal sources: the upstream feed's id or name (in the same organization). */
    internalUpstreamFeedId: z.string().max(64).optional(),
    internalUpstreamProjectId: z.string().max(64).nullish(),
    ...ignoredFields([
      'id',
      'displayLocation',
      'status',
      'statusDetails',
      'deletedDate',
      'internalUpstreamCollectionId',
      'internalUpstreamViewId',
      'serviceEndpointId',
      'serviceEndpointProjectId',
    ]),
  })
  .strict();

const userIdList = z.array(z.uuid().transform((id) => id.toLowerCase())).max(100);

export const createFeedBody = z
  .object({
    name: feedNameSchema,
    description: z.string().max(1000).default('').transform(redactSecrets),
    upstreamEnabled: z.boolean().default(true),
    upstreamSources: z.array(upstreamSourceInput).max(10).optional(),
    owners: userIdList.optional(),
    contributors: userIdList.optional(),
    ...ignoredFields(FEED_MODEL_IGNORED),
  })
  .strict();

export const updateFeedBody = z
  .object({
    description: z.string().max(1000).transform(redactSecrets).optional(),
    upstreamEnabled: z.boolean().optional(),
    upstreamSources: z.array(upstreamSourceInput).max(10).optional(),
    owners: userIdList.optional(),
    contributors: userIdList.optional(),
    ...ignoredFields([...FEED_MODEL_IGNORED, 'name']),
  })
  .strict();

export type UpstreamSourceInput = z.infer<typeof upstreamSourceInput>;

export const feedViewSchema = z.object({
  id: z.string(),
  name: z.string(),
  fullyQualifiedName: z.string(),
  description: z.string(),
  project: z.object({ id: z.string(), name: z.string() }).nullable(),
  upstreamEnabled: z.boolean(),
  upstreamSources: z.array(
    z.object({
      id: z.string(),
      name: z.string(),
      protocol: z.literal('npm'),
      upstreamSourceType: z.enum(['public', 'internal']),
      location: z.string(),
      displayLocation: z.string(),
      internalUpstreamFeedId: z.string().nullable(),
      internalUpstreamProjectId: z.string().nullable(),
    }),
  ),
  owners: z.array(z.string()),
  contributors: z.array(z.string()),
  npmRegistryUrl: z.string(),
  createdDate: z.string(),
  lastModifiedDate: z.string(),
});

function fromRow(organizationId: string, row: FeedRow): Feed {
  return {
    id: row.id,
    organizationId,
    projectId: row.projectId ?? '',
    name: row.name,
    description: row.description ?? '',
    upstreamEnabled: row.upstreamEnabled !== false,
    upstreams: parseJsonColumn<UpstreamSource[]>(row.upstreams, []),
    owners: parseJsonColumn<string[]>(row.owners, []),
    contributors: parseJsonColumn<string[]>(row.contributors, []),
    grantedAt: parseJsonColumn<Record<string, string>>(row.grantedAt, {}),
    createdAt: row.createdAt,
    updatedAt: row.updatedAt,
  };
}

function toRow(feed: Feed): FeedRow & { partitionKey: string; rowKey: string } & Record<string, unknown> {
  return {
    partitionKey: feed.organizationId,
    rowKey: feedRowKey(feed.id),
    id: feed.id,
    projectId: feed.projectId,
    name: feed.name,
    description: feed.description,
    upstreamEnabled: feed.upstreamEnabled,
    upstreams: JSON.stringify(feed.upstreams),
    owners: JSON.stringify(feed.owners),
    contributors: JSON.stringify(feed.contributors),
    grantedAt: JSON.stringify(feed.grantedAt),
    createdAt: feed.createdAt,
    updatedAt: feed.updatedAt,
  };
}

const feedsTable = (app: AppContext): TableClient => app.storage.table(TABLES.feeds);

export async function getFeedById(app: AppContext, organizationId: string, id: string): Promise<Feed | undefined> {
  if (!isGuid(id)) return undefined;
  const row = await readEntity<FeedRow>(feedsTable(app), organizationId, feedRowKey(id));
  return row ? fromRow(organizationId, row) : undefined;
}

/** A feed by id or name within its scope: a project feed is only found through its project. */
export async function findFeed(app: AppContext, organizationId: string, projectId: string, idOrName: string): Promise<Feed | undefined> {
  if (isGuid(idOrName)) {
    const feed = await getFeedById(app, organizationId, idOrName);
    return feed && feed.projectId === projectId ? feed : undefined;
  }
  if (!feedNameSchema.safeParse(idOrName).success) return undefined;
  const index = await readEntity<{ feedId: string }>(feedsTable(app), organizationId, nameRowKey(projectId, idOrName));
  return index ? getFeedById(app, organizationId, index.feedId) : undefined;
}

export async function listFeeds(app: AppContext, organizationId: string): Promise<Feed[]> {
  const rows = await readAll<FeedRow>(feedsTable(app), `PartitionKey eq '${organizationId}' and RowKey ge 'f_' and RowKey lt 'f\`'`);
  return rows.map((row) => fromRow(organizationId, row));
}

// ---- who may do what ---------------------------------------------------------------------------

function projectRole(access: OrganizationAccess, projectId: string) {
  return access.membership.projects.find((project) => project.id === projectId)?.role;
}

/** Whether the caller holds a role listed in `holders`, given during their current membership. */
const holds = (feed: Feed, holders: readonly string[], access: OrganizationAccess, caller: Caller) =>
  holders.includes(caller.id) && (feed.grantedAt[caller.id] ?? feed.createdAt) >= access.membership.since;

const isListed = (feed: Feed, access: OrganizationAccess, caller: Caller) =>
  holds(feed, feed.owners, access, caller) || holds(feed, feed.contributors, access, caller);

/** `grantedAt` after a change of the lists: people newly listed are granted now. */
function grantTimes(previous: Feed | undefined, owners: readonly string[], contributors: readonly string[], now: string): Record<string, string> {
  const before = new Set([...(previous?.owners ?? []), ...(previous?.contributors ?? [])]);
  return Object.fromEntries(
    [...new Set([...owners, ...contributors])].map((id) => [id, before.has(id) ? (previous?.grantedAt[id] ?? previous?.createdAt ?? now) : now]),
  );
}

export function canAdminister(feed: Feed, access: OrganizationAccess, caller: Caller): boolean {
  if (access.isAdministrator || holds(feed, feed.owners, access, caller)) return true;
  return feed.projectId !== '' && projectRole(access, feed.projectId) === 'projectAdministrator';
}

export function canPublish(feed: Feed, access: OrganizationAccess, caller: Caller): boolean {
  if (canAdminister(feed, access, caller) || holds(feed, feed.contributors, access, caller)) return true;
  return feed.projectId !== '' && projectRole(access, feed.projectId) === 'projectContributor';
}

/** Organization feeds: every member (not limited to projects); project feeds: the project's members. */
export function canRead(feed: Feed, access: OrganizationAccess, caller: Caller): boolean {
  if (access.isAdministrator || isListed(feed, access, caller)) return true;
  if (feed.projectId === '') return !access.isProjectScoped;
  return projectRole(access, feed.projectId) !== undefined;
}

const feedNotFound = (idOrName: string) => notFound('feedNotFound', `The feed '${idOrName.slice(0, 64)}' does not exist or you do not have access to it.`);

/**
 * Resolves `{organization}[/{project}]/.../{feed}` for a caller: a feed the caller may not read
 * answers exactly like a missing one.
 */
export async function resolveFeed(
  { app, organization: access, caller }: OrganizationScope,
  projectIdOrName: string | undefined,
  feedIdOrName: string,
  need: 'read' | 'publish' | 'administer' = 'read',
): Promise<{ feed: Feed; project: Project | undefined }> {
  const project = projectIdOrName === undefined ? undefined : await getProject(app, access, projectIdOrName);
  const feed = await findFeed(app, access.organization.id, project?.id ?? '', feedIdOrName);
  if (!feed || !canRead(feed, access, caller)) throw feedNotFound(feedIdOrName);
  if (need === 'publish' && !canPublish(feed, access, caller)) {
    throw forbidden('feedPermissionDenied', `You need Contributor permission on the feed '${feed.name}' to do this.`);
  }
  if (need === 'administer' && !canAdminister(feed, access, caller)) {
    throw forbidden('feedPermissionDenied', `Only the owners of the feed '${feed.name}' and Project Collection Administrators can do this.`);
  }
  return { feed, project };
}

// ---- create and update ---------------------------------------------------------------------------

function normalizeUrl(value: string): string | undefined {
  try {
    const url = new URL(value);
    return `${url.origin}${trimTrailing(url.pathname, '/')}/`.toLowerCase();
  } catch {
    return undefined;
  }
}

async function buildUpstreams(
  { app, organization: access, caller }: OrganizationScope,
  inputs: readonly UpstreamSourceInput[],
  self: { id: string },
): Promise<UpstreamSource[]> {
  const upstreams: UpstreamSource[] = [];
  const configured = normalizeUrl(app.config.packaging.npmUpstreamUrl);
  for (const [index, input] of inputs.entries()) {
    if (input.upstreamSourceType === 'public') {
      if (input.location !== undefined && normalizeUrl(input.location) !== configured) {
        throw badRequest(
          'upstreamLocationNotAllowed',
          `upstreamSources[${index}]: a public npm upstream is the configured registry ${app.config.packaging.npmUpstreamUrl}; other locations are not allowed.`,
        );
      }
      if (upstreams.some((upstream) => upstream.type === 'public')) {
        throw badRequest('duplicateUpstreamSource', `upstreamSources[${index}]: the public registry is listed twice.`);
      }
      upstreams.push({ id: randomUUID(), name: input.name ?? 'npmjs', type: 'public' });
      continue;
    }
    const target = input.internalUpstreamFeedId;
    if (!target) throw badRequest('invalidUpstreamSource', `upstreamSources[${index}]: internalUpstreamFeedId is required for an internal source.`);
    let projectId = '';
    if (input.internalUpstreamProjectId) projectId = (await getProject(app, access, input.internalUpstreamProjectId)).id;
    const feed = await findFeed(app, access.organization.id, projectId, target);
    if (!feed || !canRead(feed, access, caller)) {
      throw badRequest('upstreamFeedNotFound', `upstreamSources[${index}]: the feed '${target.slice(0, 64)}' does not exist or you do not have access to it.`);
    }
    if (feed.id === self.id) throw badRequest('upstreamCycle', `upstreamSources[${index}]: a feed cannot be its own upstream.`);
    if (upstreams.some((upstream) => upstream.type === 'internal' && upstream.feedId === feed.id)) {
      throw badRequest('duplicateUpstreamSource', `upstreamSources[${index}]: the feed '${feed.name}' is listed twice.`);
    }
    if (await reaches(app, access.organization.id, feed, self.id)) {
      throw badRequest('upstreamCycle', `upstreamSources[${index}]: the feed '${feed.name}' already upstreams (directly or not) to this feed.`);
    }
    upstreams.push({ id: randomUUID(), name: input.name ?? feed.name, type: 'internal', feedId: feed.id });
  }
  await checkGraphSize(app, access.organization.id, self, upstreams);
  return upstreams;
}

/**
 * With NPM_MAX_UPSTREAM_GRAPH_FEEDS set, refuses upstream sources after which any feed of the
 * organization (the one being changed, or one that upstreams to it) would reach more feeds than that,
 * directly or not: every package read through such a feed would resolve all of them.
 */
async function checkGraphSize(app: AppContext, organizationId: string, self: { id: string }, upstreams: readonly UpstreamSource[]): Promise<void> {
  const limit = app.config.packaging.maxUpstreamGraphFeeds;
  if (limit <= 0) return;
  const internal = (list: readonly UpstreamSource[]) => list.flatMap((upstream) => (upstream.type === 'internal' ? [upstream.feedId] : []));
  const feeds = await listFeeds(app, organizationId);
  const edges = new Map(feeds.map((feed) => [feed.id, internal(feed.upstreams)]));
  edges.set(self.id, internal(upstreams));
  const names = new Map(feeds.map((feed) => [feed.id, feed.name]));
  for (const start of edges.keys()) {
    const reached = new Set<string>();
    const pending = [...(edges.get(start) ?? [])];
    for (let id = pending.pop(); id !== undefined; id = pending.pop()) {
      if (reached.has(id) || id === start) continue;
      reached.add(id);
      if (reached.size > limit) {
        const who = start === self.id ? 'this feed' : `the feed '${names.get(start) ?? start}', which upstreams to this one,`;
        throw badRequest(
          'upstreamGraphTooLarge',
          `With these upstream sources ${who} would reach more than ${limit} feeds, directly or through their own upstream sources.`,
        );
      }
      pending.push(...(edges.get(id) ?? []));
    }
  }
}

/** Whether `from` reaches the feed `targetId` through internal upstreams. */
async function reaches(app: AppContext, organizationId: string, from: Feed, targetId: string, seen = new Set<string>()): Promise<boolean> {
  if (seen.has(from.id)) return false;
  seen.add(from.id);
  for (const upstream of from.upstreams) {
    if (upstream.type !== 'internal') continue;
    if (upstream.feedId === targetId) return true;
    const next = await getFeedById(app, organizationId, upstream.feedId);
    if (next && (await reaches(app, organizationId, next, targetId, seen))) return true;
  }
  return false;
}

async function checkMembers(app: AppContext, organizationId: string, ids: readonly string[]): Promise<void> {
  for (const id of ids) {
    if (!(await app.directory.getMembership(organizationId, 'user', id))) {
      throw badRequest('identityNotFound', `The user '${id}' is not a member of this organization.`);
    }
  }
}

/** The audit record of a feed: what it is and who may do what with it. */
function feedEventData(feed: Feed, project: Project | undefined) {
  return {
    FeedId: feed.id,
    FeedName: feed.name,
    Description: feed.description,
    ...(project ? { ProjectId: project.id, ProjectName: project.name } : {}),
    UpstreamEnabled: feed.upstreamEnabled,
    UpstreamSources: feed.upstreams.map((upstream) => (upstream.type === 'internal' ? `internal:${upstream.feedId}` : `public:${upstream.name}`)),
    Owners: [...feed.owners],
    Contributors: [...feed.contributors],
  };
}

/** Azure DevOps' feed actions: `Artifacts.Feed.{Org|Project}.{Create|Modify}`. */
const feedAction = <Change extends 'Create' | 'Modify'>(feed: Feed, change: Change) =>
  // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- the compiler widens this without it; the rule sees the contextual type
  `Artifacts.Feed.${feed.projectId ? 'Project' : 'Org'}.${change}` as `Artifacts.Feed.${'Project' | 'Org'}.${Change}`;

export async function createFeed(scope: OrganizationScope, project: Project | undefined, body: z.infer<typeof createFeedBody>): Promise<Feed> {
  const { app, organization: access, caller, audit } = scope;
  const allowed = access.isAdministrator || (project !== undefined && projectRole(access, project.id) === 'projectAdministrator');
  if (!allowed) {
    throw forbidden(
      'feedPermissionDenied',
      project
        ? 'Only Project Collection Administrators and project administrators can create project feeds.'
        : 'Only Project Collection Administrators can create organization feeds.',
    );
  }
  const id = randomUUID();
  const now = app.clock.now().toISOString();
  const owners = [...new Set([caller.id, ...(body.owners ?? [])])];
  const contributors = [...new Set(body.contributors ?? [])];
  await checkMembers(app, access.organization.id, [...owners.filter((owner) => owner !== caller.id), ...contributors]);
  const upstreams = body.upstreamSources
    ? await buildUpstreams(scope, body.upstreamSources, { id })
    : [{ id: randomUUID(), name: 'npmjs', type: 'public' as const }];
  const feed: Feed = {
    id,
    organizationId: access.organization.id,
    projectId: project?.id ?? '',
    name: body.name,
    description: body.description,
    upstreamEnabled: body.upstreamEnabled,
    upstreams,
    owners,
    contributors,
    grantedAt: grantTimes(undefined, owners, contributors, now),
    createdAt: now,
    updatedAt: now,
  };
  takeCreationBudget(app, 'feeds', caller);
  const actions: TransactionAction[] = [
    ['create', { partitionKey: feed.organizationId, rowKey: nameRowKey(feed.projectId, feed.name), feedId: feed.id }],
    ['create', toRow(feed)],
  ];
  const event = organizationEvent(app, audit, access.organization, {
    actionId: feedAction(feed, 'Create'),
    data: feedEventData(feed, project),
    project,
  });
  try {
    await commitWithEvents(app, TABLES.feeds, actions, [event]);
  } catch (error) {
    if (restErrorStatus(error) === 409) throw conflict('feedAlreadyExists', `A feed named '${feed.name}' already exists here.`);
    throw error;
  }
  return feed;
}

/**
 * Applies a PATCH to the feed as it is now: read with its ETag, changed, written only if nobody changed
 * it meanwhile (otherwise read again), so two concurrent edits of different fields both hold. Audited
 * as `Artifacts.Feed.{Org|Project}.Modify` with the fields that changed.
 */
export async function updateFeed(scope: OrganizationScope, project: Project | undefined, feed: Feed, body: z.infer<typeof updateFeedBody>): Promise<Feed> {
  const { app, organization: access, audit } = scope;
  if (body.owners !== undefined && body.owners.length === 0 && !access.isAdministrator) {
    throw badRequest('feedOwnerRequired', 'A feed needs at least one owner.');
  }
  await checkMembers(app, access.organization.id, [...(body.owners ?? []), ...(body.contributors ?? [])]);
  const upstreams = body.upstreamSources ? await buildUpstreams(scope, body.upstreamSources, feed) : undefined;
  return changeEntity<FeedRow, Feed>(
    feedsTable(app),
    feed.organizationId,
    feedRowKey(feed.id),
    (row) => {
      if (!row) throw notFound('feedNotFound', `The feed '${feed.name}' does not exist or you do not have access to it.`);
      const current = fromRow(feed.organizationId, row);
      const owners = body.owners ? [...new Set(body.owners)] : current.owners;
      const contributors = body.contributors ? [...new Set(body.contributors)] : current.contributors;
      const now = app.clock.now().toISOString();
      const updated: Feed = {
        ...current,
        description: body.description ?? current.description,
        upstreamEnabled: body.upstreamEnabled ?? current.upstreamEnabled,
        upstreams: upstreams ?? current.upstreams,
        owners,
        contributors,
        grantedAt: grantTimes(current, owners, contributors, now),
        updatedAt: now,
      };
      const before = feedEventData(current, project);
      const after = feedEventData(updated, project);
      const changed = (Object.keys(after) as (keyof typeof after)[]).filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]));
      const event = organizationEvent(app, audit, access.organization, {
        actionId: feedAction(updated, 'Modify'),
        data: { ...after, ChangedFields: changed, Previous: before },
        project,
      });
      return { result: updated, write: toRow(updated), commit: (actions) => commitWithEvents(app, TABLES.feeds, actions, [event]) };
    },
    { conflictMessage: 'The feed kept changing while this change was applied; try again.' },
  );
}

// ---- views ---------------------------------------------------------------------------------------

/** The part of the request path before `/_apis/` or `/_packaging/`: route prefix, organization and project. */
export function scopeBaseUrl(requestUrl: string): string {
  const url = new URL(requestUrl);
  const path = url.pathname;
  const cut = path.search(/\/_(?:apis|packaging)\//i);
  return `${url.origin}${cut >= 0 ? path.slice(0, cut) : trimTrailing(path, '/')}`;
}

export function npmRegistryUrl(scopeBase: string, feed: Feed): string {
  return `${scopeBase}/_packaging/${encodeURIComponent(feed.name)}/npm/registry/`;
}

export async function feedView(app: AppContext, feed: Feed, project: Pick<Project, 'id' | 'name'> | undefined, scopeBase: string) {
  const upstreamSources = await Promise.all(
    feed.upstreams.map(async (upstream) => {
      if (upstream.type === 'public') {
        const location = app.config.packaging.npmUpstreamUrl;
        return {
          id: upstream.id,
          name: upstream.name,
          protocol: 'npm' as const,
          upstreamSourceType: 'public' as const,
          location,
          displayLocation: location,
          internalUpstreamFeedId: null,
          internalUpstreamProjectId: null,
        };
      }
      const target = await getFeedById(app, feed.organizationId, upstream.feedId);
      const location = target ? `feed:${target.name}` : `feed:${upstream.feedId}`;
      return {
        id: upstream.id,
        name: upstream.name,
        protocol: 'npm' as const,
        upstreamSourceType: 'internal' as const,
        location,
        displayLocation: location,
        internalUpstreamFeedId: upstream.feedId,
        internalUpstreamProjectId: target?.projectId || null,
      };
    }),
  );
  return {
    id: feed.id,
    name: feed.name,
    fullyQualifiedName: project ? `${project.name}/${feed.name}` : feed.name,
    description: feed.description,
    project: project ? { id: project.id, name: project.name } : null,
    upstreamEnabled: feed.upstreamEnabled,
    upstreamSources,
    owners: [...feed.owners],
    contributors: [...feed.contributors],
    npmRegistryUrl: npmRegistryUrl(scopeBase, feed),
    createdDate: feed.createdAt,
    lastModifiedDate: feed.updatedAt,
  };
}
