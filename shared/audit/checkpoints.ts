import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ContainerClient } from '@azure/storage-blob';
import type { AppContext } from '../app-context.js';
import { restErrorStatus } from '../http/errors.js';
import { CONTAINERS } from '../storage/names.js';
import { currentPepper, derivedKeyOf } from '../secrets/hashing.js';

/**
 * Checkpoints: the audit hash chains anchored outside the audit table.
 *
 * The chain (chain.ts) is unkeyed and its head lives in the same table as the events, so someone who
 * can write that table can rewrite a day and recompute its chain and head. A checkpoint records that
 * link `sequence` of an organization's day had hash `headHash`, signed with HMAC-SHA256 under a key
 * derived (HKDF) from the token pepper, and is stored as a new blob in the `audit-checkpoints`
 * container, which has a time-based immutability policy in Azure (write once: no overwrite, no
 * delete). The blob is never overwritten by Gatehouse either (`If-None-Match: *`), so every
 * checkpoint ever written stays, and `verify` compares each of them with the stored chain.
 *
 * The blob name carries everything signed, so one listing (names and the service-set creation times)
 * checks a day's checkpoints without downloading them:
 *
 *   `<organization id>/<yyyyMMdd>/<999999999999 − sequence, 12 digits>.<key version>.<head hash>.<signature>.json`
 *
 * The inverted sequence lists the newest checkpoint of a day first. The body repeats the same fields
 * as JSON for people reading the container. The signature covers organization, day, sequence and
 * hash; the key version names the pepper the key is derived from, so checkpoints stay verifiable
 * after a rotation for as long as that pepper version is configured.
 */

const SIGNATURE_PREFIX = 'gatehouse-audit-checkpoint-v1';
const KEY_PURPOSE = 'audit-checkpoint';
const MAX_SEQUENCE = 999_999_999_999;
const NAME = /^(\d{12})\.([A-Za-z0-9]{1,8})\.([0-9a-f]{64})\.([0-9a-f]{64})\.json$/;

export interface Checkpoint {
  readonly organizationId: string;
  readonly day: string;
  readonly sequence: number;
  readonly headHash: string;
}

export interface StoredCheckpoint extends Checkpoint {
  readonly keyVersion: string;
  /** When the blob was created (set by the storage service). */
  readonly createdAt: string | null;
}

/** A blob under a day's prefix that is not a checkpoint Gatehouse signed. */
export interface InvalidCheckpoint {
  readonly name: string;
  readonly sequence: number | null;
  readonly problem: string;
}

export interface DayCheckpoints {
  /** Valid checkpoints, lowest sequence first. */
  readonly valid: StoredCheckpoint[];
  readonly invalid: InvalidCheckpoint[];
  /** Signed under a pepper version that is no longer configured: neither trusted nor refuted. */
  readonly unverifiable: number;
}

const checkpointKey = (app: AppContext, version: string) => derivedKeyOf(app.config.peppers, version, KEY_PURPOSE);

function signatureOf(key: Buffer, checkpoint: Checkpoint): string {
  const text = [SIGNATURE_PREFIX, checkpoint.organizationId, checkpoint.day, String(checkpoint.sequence), checkpoint.headHash].join('\n');
  return createHmac('sha256', key).update(text, 'utf8').digest('hex');
}

const dayPrefix = (organizationId: string, day: string) => `${organizationId}/${day}/`;

export function checkpointBlobName(checkpoint: Checkpoint, keyVersion: string, signature: string): string {
  const inverted = String(MAX_SEQUENCE - checkpoint.sequence).padStart(12, '0');
  return `${dayPrefix(checkpoint.organizationId, checkpoint.day)}${inverted}.${keyVersion}.${checkpoint.headHash}.${signature}.json`;
}

/** The checkpoint container, or undefined when blob storage is not configured (no anchoring then). */
export async function checkpointContainer(app: AppContext): Promise<ContainerClient | undefined> {
  return (await app.storage.blobs())?.getContainerClient(CONTAINERS.auditCheckpoints);
}

/**
 * Writes a checkpoint under the current pepper. 'exists' when that very checkpoint is already stored
 * (another writer or the timer was first); 'unavailable' without blob storage.
 */
export async function writeCheckpoint(app: AppContext, checkpoint: Checkpoint): Promise<'written' | 'exists' | 'unavailable'> {
  if (
    !Number.isSafeInteger(checkpoint.sequence) ||
    checkpoint.sequence < 1 ||
    checkpoint.sequence > MAX_SEQUENCE ||
    !/^[0-9a-f]{64}$/.test(checkpoint.headHash)
  ) {
    throw new Error(`not a chain link: sequence ${checkpoint.sequence}`);
  }
  const container = await checkpointContainer(app);
  if (!container) return 'unavailable';
  const keyVersion = currentPepper(app.config.peppers).version;
  const signature = signatureOf(checkpointKey(app, keyVersion) as Buffer, checkpoint);
  const body = JSON.stringify({ v: 1, ...checkpoint, keyVersion, signature });
  try {
    await container.getBlockBlobClient(checkpointBlobName(checkpoint, keyVersion, signature)).upload(body, Buffer.byteLength(body), {
      blobHTTPHeaders: { blobContentType: 'application/json' },
      // Never overwrite: in Azure the immutability policy refuses it anyway, on Azurite this does.
      conditions: { ifNoneMatch: '*' },
    });
    return 'written';
  } catch (error) {
    if (restErrorStatus(error) === 409) return 'exists';
    throw error;
  }
}

/** Checks one blob name found under a day's prefix. */
function judge(
  app: AppContext,
  organizationId: string,
  day: string,
  name: string,
  createdOn: Date | undefined,
): StoredCheckpoint | InvalidCheckpoint | 'unverifiable' {
  const match = NAME.exec(name.slice(dayPrefix(organizationId, day).length));
  if (!match) return { name, sequence: null, problem: 'is not named as a checkpoint' };
  const [, inverted = '', keyVersion = '', headHash = '', signature = ''] = match;
  const sequence = MAX_SEQUENCE - Number(inverted);
  if (sequence < 1) return { name, sequence: null, problem: 'names no chain link' };
  const key = checkpointKey(app, keyVersion);
  if (!key) return 'unverifiable';
  const checkpoint: Checkpoint = { organizationId, day, sequence, headHash };
  if (!timingSafeEqual(Buffer.from(signatureOf(key, checkpoint), 'hex'), Buffer.from(signature, 'hex'))) {
    return { name, sequence, problem: 'has a signature that does not match' };
  }
  return { ...checkpoint, keyVersion, createdAt: createdOn ? createdOn.toISOString() : null };
}

/** The days (yyyyMMdd) of an organization that have checkpoints, from one listing of day prefixes; undefined without blob storage. */
export async function checkpointedDays(app: AppContext, organizationId: string): Promise<Set<string> | undefined> {
  const container = await checkpointContainer(app);
  if (!container) return undefined;
  const days = new Set<string>();
  for await (const item of container.listBlobsByHierarchy('/', { prefix: `${organizationId}/` })) {
    // Anything not under a day's prefix is no day's checkpoint and proves nothing either way.
    const day = item.name.slice(organizationId.length + 1).replace(/\/$/, '');
    if (item.kind === 'prefix' && /^\d{8}$/.test(day)) days.add(day);
  }
  return days;
}

/** No checkpoint at all (a day without any under its prefix). */
export const NO_CHECKPOINTS: DayCheckpoints = { valid: [], invalid: [], unverifiable: 0 };

/** Every checkpoint of an organization's day; undefined without blob storage. */
export async function readDayCheckpoints(app: AppContext, organizationId: string, day: string): Promise<DayCheckpoints | undefined> {
  const container = await checkpointContainer(app);
  if (!container) return undefined;
  const result = { valid: [] as StoredCheckpoint[], invalid: [] as InvalidCheckpoint[], unverifiable: 0 };
  for await (const blob of container.listBlobsFlat({ prefix: dayPrefix(organizationId, day) })) {
    const outcome = judge(app, organizationId, day, blob.name, blob.properties.createdOn);
    if (outcome === 'unverifiable') result.unverifiable++;
    else if ('problem' in outcome) result.invalid.push(outcome);
    else result.valid.push(outcome);
  }
  result.valid.sort((a, b) => a.sequence - b.sequence);
  return result;
}

/**
 * The newest valid checkpoint of a day (the listing starts with it), reading at most one page;
 * undefined when there is none there or no blob storage.
 */
export async function latestCheckpoint(app: AppContext, organizationId: string, day: string): Promise<StoredCheckpoint | undefined> {
  const container = await checkpointContainer(app);
  if (!container) return undefined;
  for await (const page of container.listBlobsFlat({ prefix: dayPrefix(organizationId, day) }).byPage({ maxPageSize: 20 })) {
    for (const blob of page.segment.blobItems) {
      const outcome = judge(app, organizationId, day, blob.name, blob.properties.createdOn);
      if (outcome !== 'unverifiable' && !('problem' in outcome)) return outcome;
    }
    break;
  }
  return undefined;
}
