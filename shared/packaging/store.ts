import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import type { TableClient, TransactionAction } from '@azure/data-tables';
import type { AppContext } from '../app-context.js';
import type { AuditEvent } from '../audit/events.js';
import { commitWithEvents } from '../audit/outbox.js';
import { AppError, ConcurrentModificationError, conflict, restErrorStatus } from '../http/errors.js';
import { parseJsonColumn, readAll, readEntity } from '../storage/entities.js';
import { CONTAINERS, TABLES } from '../storage/names.js';

/**
 * What a feed holds of each npm package.
 *
 * Table `npmpackages`, one partition per feed and package: PK `<feed id>_<encodeURIComponent(name)>`.
 * - RK `package`: the package's upstreaming behavior and local dist-tags (may exist before any version,
 *   since a behavior can be set for a package the feed does not hold yet).
 * - RK `v_<version>`: a saved version: its manifest, origin (`internal` = published here or saved from an
 *   internal upstream; `external` = saved from a public registry), where it came from, and its tarball.
 * - RK `outbox_<event id>`: audit outbox rows of the package's changes (publish, dist-tags, behavior;
 *   see shared/audit/outbox.ts).
 *
 * Tarballs live in the `packages` container under a content-addressed name (`npm/sha512/<hex>.tgz`):
 * the blob is written before the version row, so a failure in between leaves at most an unreferenced
 * blob, never a version without its tarball; two feeds holding the same tarball share the blob.
 */

export type Origin = 'internal' | 'external';
export type UpstreamBehavior = 'auto' | 'allowExternalVersions';

export interface SavedVersion {
  readonly version: string;
  readonly manifest: Record<string, unknown>;
  readonly origin: Origin;
  /** `local` (published here), `public:<upstream name>` or `feed:<feed id>`. */
  readonly source: string;
  readonly blobName: string;
  readonly integrity: string;
  readonly shasum: string;
  readonly size: number;
  /** When the version was first published (anywhere). */
  readonly publishedAt: string;
  readonly savedAt: string;
}

export interface PackageRecord {
  readonly behavior: UpstreamBehavior;
  readonly distTags: Readonly<Record<string, string>>;
  readonly etag: string | undefined;
}

interface VersionRow {
  version: string;
  origin: Origin;
  source: string;
  blobName: string;
  integrity: string;
  shasum: string;
  size: number;
  publishedAt: string;
  savedAt: string;
  manifestChunks?: number;
  [chunk: `manifest${number}`]: string;
}

interface PackageRow {
  behavior?: string;
  distTags?: string;
  updatedAt?: string;
}

/** Table string properties hold 64 KiB (32K UTF-16 units); manifests are split over a few of them. */
const CHUNK = 30_000;
const MAX_CHUNKS = 24;
export const PACKAGE_ROW = 'package';
const versionRowKey = (version: string) => `v_${version}`;

export const packagePartition = (feedId: string, name: string) => `${feedId}_${encodeURIComponent(name)}`;
const table = (app: AppContext): TableClient => app.storage.table(TABLES.npmPackages);

export async function readPackageRecord(app: AppContext, feedId: string, name: string): Promise<PackageRecord> {
  const row = await readEntity<PackageRow>(table(app), packagePartition(feedId, name), PACKAGE_ROW);
  return {
    behavior: row?.behavior === 'allowExternalVersions' ? 'allowExternalVersions' : 'auto',
    distTags: parseJsonColumn<Record<string, string>>(row?.distTags, {}),
    etag: row?.etag,
  };
}

function fromVersionRow(row: VersionRow): SavedVersion {
  let json = '';
  for (let i = 0; i < (row.manifestChunks ?? 0); i += 1) json += row[`manifest${i}`] ?? '';
  return {
    version: row.version,
    manifest: parseJsonColumn<Record<string, unknown>>(json, {}),
    origin: row.origin === 'internal' ? 'internal' : 'external',
    source: row.source,
    blobName: row.blobName,
    integrity: row.integrity,
    shasum: row.shasum,
    size: row.size,
    publishedAt: row.publishedAt,
    savedAt: row.savedAt,
  };
}

export async function listSavedVersions(app: AppContext, feedId: string, name: string): Promise<SavedVersion[]> {
  const partition = packagePartition(feedId, name).replace(/'/g, "''");
  const rows = await readAll<VersionRow>(table(app), `PartitionKey eq '${partition}' and RowKey ge 'v_' and RowKey lt 'v\`'`);
  return rows.map(fromVersionRow);
}

export async function getSavedVersion(app: AppContext, feedId: string, name: string, version: string): Promise<SavedVersion | undefined> {
  const row = await readEntity<VersionRow>(table(app), packagePartition(feedId, name), versionRowKey(version));
  return row ? fromVersionRow(row) : undefined;
}

export function versionRow(feedId: string, name: string, saved: SavedVersion) {
  const json = JSON.stringify(saved.manifest);
  const chunks = Math.ceil(json.length / CHUNK) || 1;
  if (chunks > MAX_CHUNKS) {
    throw new AppError(413, 'manifestTooLarge', `The package manifest of ${name}@${saved.version} is larger than ${CHUNK * MAX_CHUNKS} characters.`);
  }
  const row: Record<string, unknown> = {
    partitionKey: packagePartition(feedId, name),
    rowKey: versionRowKey(saved.version),
    version: saved.version,
    origin: saved.origin,
    source: saved.source,
    blobName: saved.blobName,
    integrity: saved.integrity,
    shasum: saved.shasum,
    size: saved.size,
    publishedAt: saved.publishedAt,
    savedAt: saved.savedAt,
    manifestChunks: chunks,
  };
  for (let i = 0; i < chunks; i += 1) row[`manifest${i}`] = json.slice(i * CHUNK, (i + 1) * CHUNK);
  return row as { partitionKey: string; rowKey: string } & Record<string, unknown>;
}

/**
 * Saves a version fetched from an upstream. Another request may have saved it meanwhile: the first
 * row stays (saved versions never change), and that one is returned.
 */
export async function saveFetchedVersion(app: AppContext, feedId: string, name: string, saved: SavedVersion): Promise<SavedVersion> {
  try {
    await table(app).createEntity(versionRow(feedId, name, saved));
    return saved;
  } catch (error) {
    if (restErrorStatus(error) !== 409) throw error;
    return (await getSavedVersion(app, feedId, name, saved.version)) ?? saved;
  }
}

/** A change's audit event, built from the dist-tags as they were when the change was made. */
export type DistTagsEvent = (before: Readonly<Record<string, string>>) => AuditEvent;

/**
 * Publishes a version: its row, the package row (dist-tags) and the audit event's outbox row in one
 * transaction, so a version is never half there and never there without its event. An existing
 * version (whatever its origin) is a 409.
 */
export async function commitPublishedVersion(
  app: AppContext,
  feedId: string,
  name: string,
  saved: SavedVersion,
  tags: readonly string[],
  event: DistTagsEvent,
): Promise<void> {
  const current = await readPackageRecord(app, feedId, name);
  const distTags = { ...current.distTags };
  for (const tag of tags) distTags[tag] = saved.version;
  const actions: TransactionAction[] = [['create', versionRow(feedId, name, saved)], packageRowAction(app, feedId, name, current, distTags)];
  try {
    await commitWithEvents(app, TABLES.npmPackages, actions, [event(current.distTags)]);
  } catch (error) {
    const status = restErrorStatus(error);
    if (status === 409 || status === 412) {
      if (await getSavedVersion(app, feedId, name, saved.version)) throw versionExists(name, saved.version);
      throw new ConcurrentModificationError('The package was changed by another request; publish again.');
    }
    throw error;
  }
}

export const versionExists = (name: string, version: string) =>
  conflict('packageVersionExists', `${name}@${version} already exists in this feed; published versions cannot be replaced.`);

/** The package row with new dist-tags, written only if it is still the row `current` was read from. */
function packageRowAction(app: AppContext, feedId: string, name: string, current: PackageRecord, distTags: Record<string, string>): TransactionAction {
  const row = {
    partitionKey: packagePartition(feedId, name),
    rowKey: PACKAGE_ROW,
    distTags: JSON.stringify(distTags),
    updatedAt: app.clock.now().toISOString(),
  };
  return current.etag ? ['update', row, 'Merge', { etag: current.etag }] : ['create', row];
}

/** Replaces the dist-tags read as `current`, with the change's audit event in the same transaction. */
export async function writeDistTags(
  app: AppContext,
  feedId: string,
  name: string,
  current: PackageRecord,
  distTags: Record<string, string>,
  event: DistTagsEvent,
): Promise<void> {
  try {
    await commitWithEvents(app, TABLES.npmPackages, [packageRowAction(app, feedId, name, current, distTags)], [event(current.distTags)]);
  } catch (error) {
    const status = restErrorStatus(error);
    if (status === 409 || status === 412) throw new ConcurrentModificationError('The package was changed by another request; try again.');
    throw error;
  }
}

// ---- tarballs ------------------------------------------------------------------------------------

export interface TarballDigest {
  readonly sha512: Buffer;
  readonly sha1: string;
  readonly integrity: string;
  readonly blobName: string;
}

export function digestOf(tarball: Buffer): TarballDigest {
  const sha512 = createHash('sha512').update(tarball).digest();
  return {
    sha512,
    sha1: createHash('sha1').update(tarball).digest('hex'),
    integrity: `sha512-${sha512.toString('base64')}`,
    blobName: `npm/sha512/${sha512.toString('hex')}.tgz`,
  };
}

async function container(app: AppContext) {
  const service = await app.storage.blobs();
  if (!service) throw new AppError(503, 'blobStorageUnavailable', 'Package storage is not configured (STORAGE__blobServiceUri).');
  return service.getContainerClient(CONTAINERS.packages);
}

/** Writes a tarball under its content address; writing the same content again is a no-op. */
export async function storeTarball(app: AppContext, tarball: Buffer, digest: TarballDigest): Promise<void> {
  const blob = (await container(app)).getBlockBlobClient(digest.blobName);
  try {
    await blob.uploadData(tarball, {
      blobHTTPHeaders: { blobContentType: 'application/octet-stream' },
      conditions: { ifNoneMatch: '*' },
    });
  } catch (error) {
    const status = restErrorStatus(error);
    if (status !== 409 && status !== 412) throw error;
  }
}

export async function streamTarball(app: AppContext, blobName: string): Promise<{ stream: ReadableStream<Uint8Array>; size: number }> {
  const download = await (await container(app)).getBlockBlobClient(blobName).download();
  const body = download.readableStreamBody;
  if (!body) throw new AppError(500, 'internalError', 'The tarball could not be read.');
  // The SDK types the body as NodeJS.ReadableStream; on Node it is the response, a Readable.
  // eslint-disable-next-line @typescript-eslint/no-unsafe-class-instance-assignment
  return { stream: Readable.toWeb(body as Readable) as ReadableStream<Uint8Array>, size: download.contentLength ?? 0 };
}

// ---- upstreaming behavior ------------------------------------------------------------------------

export function behaviorRow(feedId: string, name: string, behavior: UpstreamBehavior, now: Date) {
  return { partitionKey: packagePartition(feedId, name), rowKey: PACKAGE_ROW, behavior, updatedAt: now.toISOString() };
}
