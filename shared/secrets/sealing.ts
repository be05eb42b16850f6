import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import type { AppContext } from '../app-context.js';
import type { AppConfig } from '../config.js';
import { currentPepper, derivedKeyOf } from './hashing.js';

/**
 * Secrets the app must read back (webhook signing secrets, rotation replies that hold a new PAT) are
 * sealed with AES-256-GCM under a key derived with HKDF from a token pepper, one key per purpose, so a
 * value sealed for one purpose never opens as another. A sealed value names the pepper version it was
 * sealed under: `sealed.<version>.<base64url of IV, tag and ciphertext>`. Values under an older
 * version keep opening while that version is configured; the lifecycle timer re-seals them under the
 * current one (shared/lifecycle/reseal.ts), so the old version can be retired (docs/operations.md,
 * "Rotating the token pepper"). `context` is bound to the ciphertext (GCM additional data): a value
 * copied to another record does not open there.
 */

type Peppers = AppConfig['peppers'];

export type SealPurpose = 'webhook-secret' | 'pat-rotation-idempotency';

const PREFIX = 'sealed';
const IV_BYTES = 12;
const TAG_BYTES = 16;
const SEALED = /^sealed\.([A-Za-z0-9]{1,8})\.([A-Za-z0-9_-]+)$/;

function bodyOf(key: Buffer, iv: Buffer, context: string, plaintext: string): Buffer {
  const cipher = createCipheriv('aes-256-gcm', key, iv);
  cipher.setAAD(Buffer.from(context, 'utf8'));
  const ciphertext = Buffer.concat([cipher.update(plaintext, 'utf8'), cipher.final()]);
  return Buffer.concat([iv, cipher.getAuthTag(), ciphertext]);
}

/** Seals `plaintext` for `purpose` under the current pepper. */
export function seal(peppers: Peppers, purpose: SealPurpose, plaintext: string, context = ''): string {
  const { version } = currentPepper(peppers);
  const key = derivedKeyOf(peppers, version, purpose) as Buffer;
  return `${PREFIX}.${version}.${bodyOf(key, randomBytes(IV_BYTES), context, plaintext).toString('base64url')}`;
}

/** The pepper version a sealed value names; undefined for anything that is not a sealed value. */
export function sealedVersion(sealed: string): string | undefined {
  return SEALED.exec(sealed)?.[1];
}

/** Opens a sealed value; undefined when its version is no longer configured, or it is malformed or was altered. */
export function unseal(peppers: Peppers, purpose: SealPurpose, sealed: string, context = ''): string | undefined {
  const match = SEALED.exec(sealed);
  const key = match ? derivedKeyOf(peppers, match[1] as string, purpose) : undefined;
  if (!match || !key) return undefined;
  const bytes = Buffer.from(match[2] as string, 'base64url');
  if (bytes.length < IV_BYTES + TAG_BYTES) return undefined;
  try {
    const decipher = createDecipheriv('aes-256-gcm', key, bytes.subarray(0, IV_BYTES));
    decipher.setAAD(Buffer.from(context, 'utf8'));
    decipher.setAuthTag(bytes.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
    return Buffer.concat([decipher.update(bytes.subarray(IV_BYTES + TAG_BYTES)), decipher.final()]).toString('utf8');
  } catch {
    return undefined;
  }
}

/**
 * A value stored before sealed values named their version (the version in a column beside it, the
 * same layout in base64): the sealed value it is. An empty cipher stays empty.
 */
export function sealedFromColumns(version: string, base64: string): string {
  if (!base64 || SEALED.test(base64)) return base64;
  return `${PREFIX}.${version}.${Buffer.from(base64, 'base64').toString('base64url')}`;
}

/** One stored sealed value, as a re-seal finds it. */
export interface StoredSealedValue {
  readonly sealed: string;
  readonly context: string;
  /** Stores the value re-sealed, only if the record is unchanged since it was read (a lost race throws 412). */
  replace(resealed: string): Promise<unknown>;
}

/** Where values of one purpose are stored: what the re-seal walks (shared/lifecycle/reseal.ts). */
export interface SealedStore {
  readonly name: string;
  readonly purpose: SealPurpose;
  /** The stored values that are still of use (those under the current version may be among them). */
  list(app: AppContext): AsyncIterable<StoredSealedValue>;
}
