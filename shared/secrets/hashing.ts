import { createHmac, hkdfSync } from 'node:crypto';
import type { AppConfig } from '../config.js';

type Peppers = AppConfig['peppers'];

/** The current pepper (the first listed); new tokens are hashed under it. */
export function currentPepper(peppers: Peppers): { version: string; secret: Buffer } {
  const pepper = peppers[0];
  if (!pepper) throw new Error('no token pepper is configured');
  return pepper;
}

/**
 * HMAC-SHA256 of the token under the pepper of the given version, as lowercase hex (the hash index
 * key). Undefined when that pepper version is no longer configured.
 */
export function hashToken(peppers: Peppers, pepperVersion: string, token: string): string | undefined {
  const pepper = peppers.find((candidate) => candidate.version === pepperVersion);
  if (!pepper) return undefined;
  return createHmac('sha256', pepper.secret).update(token, 'utf8').digest('hex');
}

/**
 * A key for signing opaque values (continuation tokens), derived from the current pepper with HKDF so
 * the pepper itself never signs anything else. Rotating the pepper invalidates outstanding
 * continuation tokens, which only makes clients restart a listing.
 */
export function derivedKey(peppers: Peppers, purpose: string): Buffer {
  return keyUnder(currentPepper(peppers), purpose);
}

/** The same derivation under a named pepper version (for values that carry it); undefined once that version is gone. */
export function derivedKeyOf(peppers: Peppers, version: string, purpose: string): Buffer | undefined {
  const pepper = peppers.find((candidate) => candidate.version === version);
  return pepper ? keyUnder(pepper, purpose) : undefined;
}

const keyUnder = (pepper: { secret: Buffer }, purpose: string) => Buffer.from(hkdfSync('sha256', pepper.secret, Buffer.alloc(0), `gatehouse:${purpose}`, 32));
