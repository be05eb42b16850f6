import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { BudgetExceeded, ReadBudget } from './read-budget.js';
import type { AuditActionId, AuditData } from '../audit/actions.js';
import { organizationEvent } from '../audit/context.js';
import type { AuditEvent } from '../audit/events.js';
import { commitWithEvents } from '../audit/outbox.js';
import type { OrganizationScope } from '../request-scope.js';
import type { Project } from '../directory/repository.js';
import { AppError, badRequest, conflict, notFound, restErrorStatus } from '../http/errors.js';
import { TABLES } from '../storage/names.js';
import { getFeedById, type Feed } from './feeds.js';
import { highestVersion, parseDistTag, parseNpmVersion, sortVersions, tarballFileName, type NpmPackageName } from './npm-names.js';
import {
  behaviorRow,
  commitPublishedVersion,
  digestOf,
  getSavedVersion,
  listSavedVersions,
  readPackageRecord,
  saveFetchedVersion,
  storeTarball,
  versionExists,
  writeDistTags,
  type Origin,
  type SavedVersion,
  type UpstreamBehavior,
} from './store.js';
import { fetchPublicPackument, fetchPublicTarball, UpstreamFailure, type UpstreamVersion } from './upstream.js';

/**
 * The npm side of a feed: what a package looks like through the feed (its saved versions merged with
 * its upstreams', in order) and the upstream behavior rule.
 *
 * The rule: once a package has at least one internal version in the feed (published here, or offered
 * by an internal upstream as internal), versions from public registries that the feed has not saved
 * are neither listed nor downloadable, unless the package's behavior is `allowExternalVersions`.
 * Saved versions are always served. A version keeps the origin it was first saved with, so a public
 * version passed along by an internal feed is still external.
 */

/** Internal upstreams are followed this deep at most (cycles are refused when feeds are configured). */
const MAX_UPSTREAM_DEPTH = 5;

type Candidate =
  | { kind: 'saved'; version: string; origin: Origin; saved: SavedVersion }
  | { kind: 'public'; version: string; origin: 'external'; upstream: UpstreamVersion; sourceName: string }
  | { kind: 'internal'; version: string; origin: Origin; feed: Feed; manifest: Record<string, unknown>; publishedAt: string | undefined };

export interface UpstreamProblem {
  readonly source: string;
  readonly code: string;
  readonly message: string;
}

export interface PackageView {
  readonly name: NpmPackageName;
  readonly feed: Feed;
  readonly behavior: UpstreamBehavior;
  /** Whether the package has an internal version in the feed (the rule applies). */
  readonly hasInternalVersions: boolean;
  /** Versions the feed offers, after the rule. */
  readonly versions: ReadonlyMap<string, Candidate>;
  /** Versions the rule hides (for messages). */
  readonly blocked: ReadonlySet<string>;
  readonly distTags: Readonly<Record<string, string>>;
  readonly problems: readonly UpstreamProblem[];
}

/** One request's reading of packages through feeds: what it may spend, and the feeds it came through (downstream first). */
export interface PackageRead {
  readonly app: AppContext;
  readonly budget: ReadBudget;
  readonly trail: readonly string[];
}

/** A request's read, stopped once the client has gone (`signal`). */
export const packageRead = (app: AppContext, signal?: AbortSignal): PackageRead => ({ app, budget: ReadBudget.of(app, signal), trail: [] });

const manifestOf = (candidate: Candidate): Record<string, unknown> =>
  candidate.kind === 'saved' ? candidate.saved.manifest : candidate.kind === 'public' ? candidate.upstream.manifest : candidate.manifest;

const publishedAtOf = (candidate: Candidate): string | undefined =>
  candidate.kind === 'saved' ? candidate.saved.publishedAt : candidate.kind === 'public' ? candidate.upstream.publishedAt : candidate.publishedAt;

/**
 * Resolves a package through a feed, for a read that came through the feeds of its `trail`.
 *
 * Every source is read before anything is merged, and the merge is decided per package name, not by
 * upstream order: versions of internal origin (saved in the feed or offered by an internal upstream)
 * come first, so a version number that exists internally is always served from the internal source;
 * then the feed's other saved versions; then the upstreams' remaining versions in upstream order.
 */
export function resolvePackage(read: PackageRead, feed: Feed, name: NpmPackageName): Promise<PackageView> {
  return read.budget.feed(feed.id, `view:${feed.id}:${name.name}`, () => resolveOnce(read, feed, name));
}

async function resolveOnce(read: PackageRead, feed: Feed, name: NpmPackageName): Promise<PackageView> {
  const { app, budget, trail } = read;
  const [record, saved] = await Promise.all([readPackageRecord(app, feed.id, name.name), listSavedVersions(app, feed.id, name.name)]);
  const savedCandidates: Candidate[] = saved.map((version) => ({ kind: 'saved', version: version.version, origin: version.origin, saved: version }));
  const upstreamCandidates: Candidate[][] = [];

  const problems: UpstreamProblem[] = [];
  const upstreamTags: Record<string, string>[] = [];
  const path = [...trail, feed.id];
  if (feed.upstreamEnabled && path.length <= MAX_UPSTREAM_DEPTH) {
    for (const upstream of feed.upstreams) {
      try {
        if (upstream.type === 'public') {
          const packument = await budget.upstream(`packument:${name.name}`, () => fetchPublicPackument(app, name.name));
          if (!packument) continue;
          upstreamCandidates.push(
            [...packument.versions.values()].map((version) => ({
              kind: 'public',
              version: version.version,
              origin: 'external',
              upstream: version,
              sourceName: upstream.name,
            })),
          );
          upstreamTags.push({ ...packument.distTags });
        } else {
          if (path.includes(upstream.feedId)) continue;
          const target = await getFeedById(app, feed.organizationId, upstream.feedId);
          if (!target) continue;
          const view = await resolvePackage({ ...read, trail: path }, target, name);
          upstreamCandidates.push(
            [...view.versions].map(([version, candidate]) => ({
              kind: 'internal',
              version,
              origin: candidate.origin,
              feed: target,
              manifest: manifestOf(candidate),
              publishedAt: publishedAtOf(candidate),
            })),
          );
          problems.push(...view.problems.map((problem) => ({ ...problem, source: `${upstream.name} → ${problem.source}` })));
          upstreamTags.push({ ...view.distTags });
        }
      } catch (error) {
        if (!(error instanceof AppError) || error.status < 500 || error instanceof BudgetExceeded) throw error;
        problems.push({ source: upstream.name, code: error.code, message: error.message });
        app.log.warn('npm upstream failed', { feedId: feed.id, upstream: upstream.name, package: name.name, code: error.code });
      }
    }
  }

  const candidates = new Map<string, Candidate>();
  const offer = (list: readonly Candidate[], include: (candidate: Candidate) => boolean) => {
    for (const candidate of list) if (include(candidate) && !candidates.has(candidate.version)) candidates.set(candidate.version, candidate);
  };
  const isInternal = (candidate: Candidate) => candidate.origin === 'internal';
  offer(savedCandidates, isInternal);
  for (const list of upstreamCandidates) offer(list, isInternal);
  offer(savedCandidates, () => true);
  for (const list of upstreamCandidates) offer(list, () => true);

  const hasInternalVersions = [...candidates.values()].some((candidate) => candidate.origin === 'internal');
  const blockExternal = hasInternalVersions && record.behavior !== 'allowExternalVersions';
  const versions = new Map<string, Candidate>();
  const blocked = new Set<string>();
  for (const version of sortVersions(candidates.keys())) {
    const candidate = candidates.get(version);
    if (!candidate) continue;
    if (blockExternal && candidate.kind !== 'saved' && candidate.origin === 'external') blocked.add(version);
    else versions.set(version, candidate);
  }

  const distTags: Record<string, string> = {};
  for (const tags of [record.distTags, ...upstreamTags]) {
    for (const [tag, version] of Object.entries(tags)) {
      if (!(tag in distTags) && versions.has(version)) distTags[tag] = version;
    }
  }
  const fallback = highestVersion(versions.keys());
  if (!distTags.latest && fallback) distTags.latest = fallback;

  return { name, feed, behavior: record.behavior, hasInternalVersions, versions, blocked, distTags, problems };
}

/** A package view with something to serve; otherwise a 404, or a 502 naming the upstream's failure. */
export async function requirePackage(read: PackageRead, feed: Feed, name: NpmPackageName): Promise<PackageView> {
  const view = await resolvePackage(read, feed, name);
  if (view.versions.size > 0) return view;
  const problem = view.problems[0];
  if (problem) {
    throw new UpstreamFailure(problem.code, `${name.name} could not be read from upstream source ${problem.source}: ${problem.message}`);
  }
  throw notFound('packageNotFound', `The package '${name.name}' is not in this feed or its upstream sources.`);
}

/** The packument npm reads, with tarball URLs pointing back at this feed. */
export function packument(view: PackageView, registryUrl: string) {
  const versions: Record<string, unknown> = {};
  const time: Record<string, string> = {};
  for (const [version, candidate] of view.versions) {
    const manifest = manifestOf(candidate);
    const dist = (manifest.dist ?? {}) as Record<string, unknown>;
    const tarballPath = `${view.name.name}/-/${tarballFileName(view.name, version)}`;
    versions[version] = { ...manifest, _id: `${view.name.name}@${version}`, dist: { ...dist, tarball: `${registryUrl}${tarballPath}` } };
    const publishedAt = publishedAtOf(candidate);
    if (publishedAt) time[version] = publishedAt;
  }
  const times = Object.values(time).sort();
  const latest = view.distTags.latest ? (versions[view.distTags.latest] as Record<string, unknown> | undefined) : undefined;
  return {
    _id: view.name.name,
    name: view.name.name,
    ...(typeof latest?.description === 'string' ? { description: latest.description } : {}),
    'dist-tags': view.distTags,
    versions,
    time: { ...(times.length > 0 ? { created: times[0], modified: times.at(-1) } : {}), ...time },
  };
}

// ---- tarballs ------------------------------------------------------------------------------------

/**
 * The saved version for `version`, fetching and saving it from an upstream when the feed may offer it.
 * Anything the rule hides (or that does not exist) is a 404; an upstream failure is a 502.
 */
export async function obtainVersion(read: PackageRead, feed: Feed, name: NpmPackageName, version: string): Promise<SavedVersion> {
  const { app, budget } = read;
  const upstreamRead = { ...read, trail: [...read.trail, feed.id] };
  budget.checkClient();
  const existing = await getSavedVersion(app, feed.id, name.name, version);
  const hasInternalUpstream = feed.upstreams.some((upstream) => upstream.type === 'internal');
  if (existing && (existing.origin === 'internal' || !hasInternalUpstream)) return existing;
  const view = await resolvePackage(read, feed, name);
  const candidate = view.versions.get(version);
  if (existing) {
    // An external copy saved before an internal source had this version number: the internal one wins.
    if (candidate?.kind === 'internal' && candidate.origin === 'internal') return obtainVersion(upstreamRead, candidate.feed, name, version);
    return existing;
  }
  if (!candidate) {
    const problem = view.problems[0];
    if (!view.blocked.has(version) && problem) {
      throw new UpstreamFailure(problem.code, `${name.name}@${version} could not be read from upstream source ${problem.source}: ${problem.message}`);
    }
    throw notFound(
      'packageVersionNotFound',
      view.blocked.has(version)
        ? `${name.name}@${version} comes from a public upstream, and ${name.name} has internal versions in this feed; external versions are allowed only when the package's upstream behavior is allowExternalVersions.`
        : `${name.name}@${version} is not in this feed or its upstream sources.`,
    );
  }
  if (candidate.kind === 'saved') return candidate.saved;
  const now = app.clock.now().toISOString();
  if (candidate.kind === 'internal') {
    const upstreamSaved = await obtainVersion(upstreamRead, candidate.feed, name, version);
    return saveFetchedVersion(app, feed.id, name.name, {
      ...upstreamSaved,
      origin: upstreamSaved.origin,
      source: `feed:${candidate.feed.id}`,
      savedAt: now,
    });
  }
  const tarball = await budget.upstream(`tarball:${name.name}@${version}`, () => fetchPublicTarball(app, name.name, candidate.upstream));
  const digest = digestOf(tarball);
  await storeTarball(app, tarball, digest);
  const manifest = { ...candidate.upstream.manifest };
  return saveFetchedVersion(app, feed.id, name.name, {
    version,
    manifest,
    origin: 'external',
    source: `public:${candidate.sourceName}`,
    blobName: digest.blobName,
    integrity: digest.integrity,
    shasum: digest.sha1,
    size: tarball.length,
    publishedAt: candidate.upstream.publishedAt ?? now,
    savedAt: now,
  });
}

/** Splits `<name>-<version>.tgz` for a known package name. */
export function versionFromTarballFile(name: NpmPackageName, file: string): string {
  const prefix = `${name.unscoped}-`;
  if (!file.startsWith(prefix) || !file.endsWith('.tgz')) {
    throw notFound('packageVersionNotFound', `'${file.slice(0, 100)}' is not a tarball of ${name.name}.`);
  }
  return parseNpmVersion(file.slice(prefix.length, -'.tgz'.length));
}

// ---- audit ---------------------------------------------------------------------------------------

/** The feed a package change is made in, with its project (as resolveFeed answers them). */
export interface FeedTarget {
  readonly feed: Feed;
  readonly project: Project | undefined;
}

type PackageActionId = Extract<AuditActionId, `Artifacts.Package.${string}`> | 'Packaging.UpstreamBehaviorUpdateEvent';

/** An event about one npm package of a feed: the feed, protocol and package, plus what the change says. */
function packageEvent<Id extends PackageActionId>(
  { app, audit, organization }: OrganizationScope,
  { feed, project }: FeedTarget,
  name: NpmPackageName,
  actionId: Id,
  data: Omit<AuditData<Id>, 'FeedId' | 'FeedName' | 'Protocol' | 'PackageName'>,
): AuditEvent {
  return organizationEvent(app, audit, organization.organization, {
    actionId,
    project,
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion -- the compiler widens this without it; the rule sees the contextual type
    data: { FeedId: feed.id, FeedName: feed.name, Protocol: 'npm', PackageName: name.name, ...data } as AuditData<Id>,
  });
}

// ---- publish -------------------------------------------------------------------------------------

const attachmentSchema = z.looseObject({ content_type: z.string().optional(), data: z.string(), length: z.number().int().nonnegative() });

export const publishBody = z
  .object({
    _id: z.string().optional(),
    name: z.string(),
    'dist-tags': z.record(z.string(), z.string()).default({}),
    versions: z.record(z.string(), z.record(z.string(), z.unknown())),
    _attachments: z.record(z.string(), attachmentSchema),
  })
  .loose();

const BASE64 = /^[A-Za-z0-9+/]*={0,2}$/;

/**
 * `npm publish`: one new version with its tarball (base64 in `_attachments`). The tarball is checked
 * against the manifest's shasum (sha1 hex) and integrity (SRI), stored, then the version row is
 * committed with the dist-tags and its `Artifacts.Package.Publish` event.
 */
export async function publishVersion(scope: OrganizationScope, target: FeedTarget, name: NpmPackageName, body: z.infer<typeof publishBody>): Promise<string> {
  const { app } = scope;
  const { feed } = target;
  if (body.name !== name.name || (body._id !== undefined && body._id !== name.name)) {
    throw badRequest('packageNameMismatch', `The package document names '${body.name.slice(0, 100)}', not '${name.name}'.`);
  }
  const versionKeys = Object.keys(body.versions);
  const attachments = Object.entries(body._attachments);
  const [versionKey] = versionKeys;
  const [onlyAttachment] = attachments;
  if (versionKeys.length !== 1 || attachments.length !== 1 || versionKey === undefined || onlyAttachment === undefined) {
    throw badRequest('invalidPublishRequest', 'A publish carries exactly one version and one tarball attachment.');
  }
  const version = parseNpmVersion(versionKey);
  const manifest = { ...body.versions[version] };
  if (manifest.name !== name.name || manifest.version !== version) {
    throw badRequest('packageNameMismatch', `The manifest of ${version} does not name ${name.name}@${version}.`);
  }
  const [attachmentKey, attachment] = onlyAttachment;
  if (attachmentKey !== `${name.name}-${version}.tgz` && attachmentKey !== tarballFileName(name, version)) {
    throw badRequest('invalidPublishRequest', `The attachment '${attachmentKey.slice(0, 120)}' is not the tarball of ${name.name}@${version}.`);
  }
  const limit = app.config.packaging.maxTarballBytes;
  if (attachment.length > limit || attachment.data.length > Math.ceil((limit * 4) / 3) + 4) {
    throw new AppError(413, 'packageTooLarge', `The tarball is larger than the limit of ${limit} bytes.`);
  }
  if (!BASE64.test(attachment.data) || attachment.data.length % 4 !== 0) {
    throw badRequest('invalidTarball', 'The tarball attachment is not valid base64.');
  }
  const tarball = Buffer.from(attachment.data, 'base64');
  if (tarball.length > limit) throw new AppError(413, 'packageTooLarge', `The tarball is larger than the limit of ${limit} bytes.`);
  if (tarball.length !== attachment.length) {
    throw badRequest('invalidTarball', `The tarball has ${tarball.length} bytes, but its attachment says ${attachment.length}.`);
  }
  if (tarball.length < 2 || tarball[0] !== 0x1f || tarball[1] !== 0x8b) throw badRequest('invalidTarball', 'The tarball is not gzip data.');

  const dist = (manifest.dist ?? {}) as Record<string, unknown>;
  const digest = digestOf(tarball);
  if (typeof dist.shasum !== 'string' || dist.shasum.toLowerCase() !== digest.sha1) {
    throw badRequest('integrityMismatch', `The tarball does not match the shasum of ${name.name}@${version}.`);
  }
  if (dist.integrity !== undefined) {
    const given = typeof dist.integrity === 'string' ? dist.integrity.split(/\s+/).filter((item) => item.startsWith('sha512-')) : [];
    if (given.length === 0 || !given.every((item) => item === digest.integrity)) {
      throw badRequest('integrityMismatch', `The tarball does not match the integrity of ${name.name}@${version}.`);
    }
  }
  const tags = Object.entries(body['dist-tags']).map(([tag, tagged]) => {
    parseDistTag(tag);
    if (tagged !== version) throw badRequest('invalidDistTag', `The dist-tag '${tag}' must point at the published version ${version}.`);
    return tag;
  });
  if (await getSavedVersion(app, feed.id, name.name, version)) throw versionExists(name.name, version);

  delete manifest.readme;
  const now = app.clock.now().toISOString();
  const saved: SavedVersion = {
    version,
    manifest: { ...manifest, dist: { ...dist, shasum: digest.sha1, integrity: digest.integrity, tarball: '' } },
    origin: 'internal',
    source: 'local',
    blobName: digest.blobName,
    integrity: digest.integrity,
    shasum: digest.sha1,
    size: tarball.length,
    publishedAt: now,
    savedAt: now,
  };
  await storeTarball(app, tarball, digest);
  const tagged = tags.length > 0 ? tags : ['latest'];
  await commitPublishedVersion(app, feed.id, name.name, saved, tagged, (before) =>
    packageEvent(scope, target, name, 'Artifacts.Package.Publish', {
      PackageVersion: version,
      Size: saved.size,
      Integrity: saved.integrity,
      // The tags this publish set, and where those of them that existed pointed before (not the whole map,
      // which only grows).
      DistTags: Object.fromEntries(tagged.map((tag) => [tag, version])),
      PreviousDistTags: Object.fromEntries(tagged.flatMap((tag) => (Object.hasOwn(before, tag) ? [[tag, before[tag]]] : []))),
    }),
  );
  return version;
}

// ---- dist-tags -----------------------------------------------------------------------------------

/**
 * Points `tag` at `version` (`Artifacts.Package.DistTag.Add`, or `.Move` when the tag pointed
 * elsewhere). A tag already there changes nothing and records nothing.
 */
export async function setDistTag(scope: OrganizationScope, target: FeedTarget, name: NpmPackageName, tag: string, version: string): Promise<void> {
  const { app } = scope;
  const { feed } = target;
  parseDistTag(tag);
  parseNpmVersion(version);
  const view = await resolvePackage(packageRead(app), feed, name);
  if (!view.versions.has(version)) throw notFound('packageVersionNotFound', `${name.name}@${version} is not available in this feed.`);
  const record = await readPackageRecord(app, feed.id, name.name);
  const previous = Object.hasOwn(record.distTags, tag) ? record.distTags[tag] : undefined;
  if (previous === version) return;
  await writeDistTags(app, feed.id, name.name, record, { ...record.distTags, [tag]: version }, () =>
    previous === undefined
      ? packageEvent(scope, target, name, 'Artifacts.Package.DistTag.Add', { Tag: tag, PackageVersion: version })
      : packageEvent(scope, target, name, 'Artifacts.Package.DistTag.Move', { Tag: tag, PackageVersion: version, PreviousVersion: previous }),
  );
}

/** Removes `tag` (not `latest`), audited as `Artifacts.Package.DistTag.Remove`. */
export async function removeDistTag(scope: OrganizationScope, target: FeedTarget, name: NpmPackageName, tag: string): Promise<void> {
  const { app } = scope;
  const { feed } = target;
  parseDistTag(tag);
  if (tag === 'latest') throw badRequest('invalidDistTag', "The 'latest' dist-tag cannot be removed.");
  const record = await readPackageRecord(app, feed.id, name.name);
  if (!Object.hasOwn(record.distTags, tag)) throw notFound('distTagNotFound', `${name.name} has no dist-tag '${tag}' in this feed.`);
  const { [tag]: removed, ...rest } = record.distTags;
  await writeDistTags(app, feed.id, name.name, record, rest, () =>
    packageEvent(scope, target, name, 'Artifacts.Package.DistTag.Remove', { Tag: tag, PreviousVersion: removed }),
  );
}

// ---- upstreaming behavior ------------------------------------------------------------------------

export const upstreamingBehaviorSchema = z.object({ versionsFromExternalUpstreams: z.enum(['auto', 'allowExternalVersions']) });

/** The body of the Set call; Azure DevOps' enum parsing ignores case (its docs send PascalCase). */
export const upstreamingBehaviorBody = z
  .object({
    versionsFromExternalUpstreams: z
      .string()
      .transform((value) => value.toLowerCase())
      .pipe(z.enum(['auto', 'allowexternalversions'], { error: "must be 'auto' or 'allowExternalVersions'" }))
      .transform((value): UpstreamBehavior => (value === 'auto' ? 'auto' : 'allowExternalVersions')),
  })
  .strict();

export async function readBehavior(app: AppContext, feed: Feed, name: NpmPackageName) {
  const record = await readPackageRecord(app, feed.id, name.name);
  return { versionsFromExternalUpstreams: record.behavior };
}

/**
 * Sets the behavior (even before the feed holds the package), audited in the same transaction; the
 * package row is written only if nobody changed it since it was read. Setting the behavior it has
 * changes nothing and records nothing.
 */
export async function setBehavior(scope: OrganizationScope, target: FeedTarget, name: NpmPackageName, behavior: UpstreamBehavior): Promise<void> {
  const { app } = scope;
  const record = await readPackageRecord(app, target.feed.id, name.name);
  if (record.behavior === behavior) return;
  const event = packageEvent(scope, target, name, 'Packaging.UpstreamBehaviorUpdateEvent', { PreviousBehavior: record.behavior, NewBehavior: behavior });
  const row = behaviorRow(target.feed.id, name.name, behavior, app.clock.now());
  try {
    await commitWithEvents(app, TABLES.npmPackages, [record.etag ? ['update', row, 'Merge', { etag: record.etag }] : ['create', row]], [event]);
  } catch (error) {
    const status = restErrorStatus(error);
    if (status === 409 || status === 412) throw conflict('concurrentModification', 'The package was changed by another request; try again.');
    throw error;
  }
}
