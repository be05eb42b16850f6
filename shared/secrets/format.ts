import { randomBytes } from 'node:crypto';
import { isGuid } from '../ids.js';

/**
 * Gatehouse personal access token format (documented in docs/api.md, "Token format"):
 *
 *     gat_<pepper version>_<22 base62: authorization id><32 random base62 characters><6 base62: CRC32>
 *
 * - `gat_`: fixed prefix, so secret scanners can recognise the token; the underscores keep the whole
 *   token selectable with one double-click.
 * - pepper version: 1–8 characters `[A-Za-z0-9]`, the version of the server secret the token's hash is
 *   computed under, so authentication is one point read with the right pepper even after rotation.
 * - the token's authorization id (a UUID, 128 bits in 22 base62 characters), so the record is found
 *   with one point read (its partition is part of the id) and the secret is then checked against the
 *   stored HMAC. The id is not secret: it is shown in listings and audit events.
 * - 32 random characters from a CSPRNG over `0-9A-Za-z` (rejection sampling, no modulo bias):
 *   32 × log2(62) ≈ 190 bits of entropy.
 * - checksum: CRC32 (IEEE) of everything before it (`gat_<version>_<random>`), base62, left-padded with
 *   `0` to 6 characters, as GitHub's tokens do. A scanner validates it offline with `isGatehouseToken`.
 */
export const TOKEN_PREFIX = 'gat_';
export const RANDOM_LENGTH = 32;
export const ID_LENGTH = 22;
export const CHECKSUM_LENGTH = 6;
const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

/** Matches a candidate anywhere in text (for scanners); confirm each match with `isGatehouseToken`. */
export const TOKEN_PATTERN = /\bgat_[A-Za-z0-9]{1,8}_[A-Za-z0-9]{60}\b/g;
const EXACT = /^gat_([A-Za-z0-9]{1,8})_([A-Za-z0-9]{22})([A-Za-z0-9]{32})([A-Za-z0-9]{6})$/;
const MAX_TOKEN_LENGTH = 4 + 8 + 1 + 60;

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
  // Over the UTF-8 bytes; an ASCII character is its own byte, so tokens need no buffer.
  let crc = 0xffffffff;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code > 0x7f) return crc32OfBytes(Buffer.from(text, 'utf8'));
    crc = (CRC_TABLE[(crc ^ code) & 0xff] as number) ^ (crc >>> 8);
  }
  return (crc ^ 0xffffffff) >>> 0;
}

function crc32OfBytes(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) crc = (CRC_TABLE[(crc ^ byte) & 0xff] as number) ^ (crc >>> 8);
  return (crc ^ 0xffffffff) >>> 0;
}

export function base62(value: number, width: number): string {
  let out = '';
  let rest = value;
  do {
    out = BASE62.charAt(rest % 62) + out;
    rest = Math.floor(rest / 62);
  } while (rest > 0);
  return out.padStart(width, '0');
}

/** A UUID as 22 base62 characters (big-endian, left-padded with `0`). */
function uuidToBase62(uuid: string): string {
  let rest = BigInt(`0x${uuid.replace(/-/g, '')}`);
  let out = '';
  while (rest > 0n) {
    out = BASE62.charAt(Number(rest % 62n)) + out;
    rest /= 62n;
  }
  return out.padStart(ID_LENGTH, '0');
}

function base62ToUuid(text: string): string | undefined {
  // Four digits at a time (62⁴ < 2⁵³): a sixth of the BigInt arithmetic.
  let value = 0n;
  for (let i = 0; i < text.length; i += 4) {
    const digits = text.slice(i, i + 4);
    let chunk = 0;
    for (const char of digits) chunk = chunk * 62 + BASE62.indexOf(char);
    value = value * 62n ** BigInt(digits.length) + BigInt(chunk);
  }
  const hex = value.toString(16);
  if (hex.length > 32) return undefined;
  const padded = hex.padStart(32, '0');
  return `${padded.slice(0, 8)}-${padded.slice(8, 12)}-${padded.slice(12, 16)}-${padded.slice(16, 20)}-${padded.slice(20)}`;
}

export const checksumOf = (body: string): string => base62(crc32(body), CHECKSUM_LENGTH);

function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    for (const byte of randomBytes(length * 2)) {
      if (byte < 248 && out.length < length) out += BASE62.charAt(byte % 62);
    }
  }
  return out;
}

/** A new token for the given pepper version and authorization id. */
export function generateToken(pepperVersion: string, authorizationId: string): string {
  if (!/^[A-Za-z0-9]{1,8}$/.test(pepperVersion)) throw new Error('pepper versions are 1-8 letters or digits');
  const id = authorizationId.toLowerCase();
  if (!isGuid(id)) throw new Error('the authorization id must be a UUID');
  const body = `${TOKEN_PREFIX}${pepperVersion}_${uuidToBase62(id)}${randomBase62(RANDOM_LENGTH)}`;
  return body + checksumOf(body);
}

/** The parts of a well-formed token with a valid checksum, or undefined. */
export function parseGatehouseToken(value: string): { pepperVersion: string; authorizationId: string } | undefined {
  if (typeof value !== 'string' || value.length > MAX_TOKEN_LENGTH) return undefined;
  const match = EXACT.exec(value);
  if (!match) return undefined;
  const checksum = match[4] ?? '';
  if (checksumOf(value.slice(0, value.length - CHECKSUM_LENGTH)) !== checksum) return undefined;
  const authorizationId = base62ToUuid(match[2] ?? '');
  if (!authorizationId) return undefined;
  return { pepperVersion: match[1] ?? '', authorizationId };
}

/** True for a string that is exactly a Gatehouse token with a valid checksum (offline check). */
export const isGatehouseToken = (value: string): boolean => parseGatehouseToken(value) !== undefined;

/** Every Gatehouse token (valid checksum) found in a text. */
export function findGatehouseTokens(text: string): string[] {
  return [...text.matchAll(TOKEN_PATTERN)].map((match) => match[0]).filter(isGatehouseToken);
}
