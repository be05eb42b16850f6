import { randomBytes } from 'node:crypto';

/**
 * Gatehouse personal access token format (documented in the README):
 *
 *     gat_<pepper version>_<32 random base62 characters><6 base62 characters of CRC32>
 *
 * - `gat_`: fixed prefix, so secret scanners can recognise the token; the underscores keep the whole
 *   token selectable with one double-click.
 * - pepper version: 1–8 characters `[A-Za-z0-9]`, the version of the server secret the token's hash is
 *   computed under, so authentication is one point read with the right pepper even after rotation.
 * - 32 random characters from a CSPRNG over `0-9A-Za-z` (rejection sampling, no modulo bias):
 *   32 × log2(62) ≈ 190 bits of entropy.
 * - checksum: CRC32 (IEEE) of everything before it (`gat_<version>_<random>`), base62, left-padded with
 *   `0` to 6 characters, as GitHub's tokens do. A scanner validates it offline with `isGatehouseToken`.
 */
export const TOKEN_PREFIX = 'gat_';
export const RANDOM_LENGTH = 32;
export const CHECKSUM_LENGTH = 6;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Matches a candidate anywhere in text (for scanners); confirm each match with `isGatehouseToken`. */
export const TOKEN_PATTERN = /\bgat_[A-Za-z0-9]{1,8}_[A-Za-z0-9]{38}\b/g;
const EXACT = /^gat_([A-Za-z0-9]{1,8})_([A-Za-z0-9]{32})([A-Za-z0-9]{6})$/;

const CRC_TABLE = (() => {
  const table = new Uint32Array(256);
  for (let n = 0; n < 256; n++) {
    let c = n;
    for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
    table[n] = c >>> 0;
  }
  return table;
})();

export function crc32(text: string): number {
  let crc = 0xffffffff;
  for (const byte of Buffer.from(text, 'utf8')) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function base62(value: number, width: number): string {
  let out = '';
  let rest = value;
  do {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  } while (rest > 0);
  return out.padStart(width, '0');
}

export const checksumOf = (body: string): string => base62(crc32(body), CHECKSUM_LENGTH);

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62[byte % 62];
    }
  }
  return out;
}

/** A new token for the given pepper version. */
export function generateToken(pepperVersion: string): string {
  if (!/^[A-Za-z0-9]{1,8}$/.test(pepperVersion)) throw new Error('pepper versions are 1-8 letters or digits');
  const body = `${TOKEN_PREFIX}${pepperVersion}_${randomBase62(RANDOM_LENGTH)}`;
  return body + checksumOf(body);
}

/** The parts of a well-formed token with a valid checksum, or undefined. */
export function parseGatehouseToken(value: string): { pepperVersion: string } | undefined {
  if (typeof value !== 'string' || value.length > 64) return undefined;
  const match = EXACT.exec(value);
  if (!match) return undefined;
  const checksum = match[3] ?? '';
  if (checksumOf(value.slice(0, value.length - CHECKSUM_LENGTH)) !== checksum) return undefined;
  return { pepperVersion: match[1] ?? '' };
}

/** True for a string that is exactly a Gatehouse token with a valid checksum (offline check). */
export const isGatehouseToken = (value: string): boolean => parseGatehouseToken(value) !== undefined;

/** Every Gatehouse token (valid checksum) found in a text. */
export function findGatehouseTokens(text: string): string[] {
  return [...text.matchAll(TOKEN_PATTERN)].map((match) => match[0]).filter(isGatehouseToken);
}
