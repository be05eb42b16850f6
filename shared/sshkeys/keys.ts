import { createHash, createPrivateKey, createPublicKey } from 'node:crypto';
import type Sshpk from 'sshpk';
import { sshKeyFailure, type SshKeyError } from '../http/errors.js';
import { MAX_RSA_BITS, MIN_RSA_BITS, isSshKeyType, type SshKeyType } from '../tokens/ssh-key-types.js';

/**
 * Parsing of pasted SSH public keys.
 *
 * The key material is parsed and checked by sshpk (wire format, RFC 4716 and PEM public keys) and
 * then imported by node:crypto, which rejects ECDSA points that are not on their curve. sshpk (1.18)
 * does not know the FIDO/U2F types `sk-ssh-ed25519@openssh.com` and
 * `sk-ecdsa-sha2-nistp256@openssh.com`, so their outer wire format (PROTOCOL.u2f: type, key fields,
 * application, each a uint32-length-prefixed string) is read by `WireReader` below; the embedded
 * Ed25519 / P-256 key is then re-encoded as the plain `ssh-ed25519` / `ecdsa-sha2-nistp256` blob and
 * checked by sshpk and node:crypto like any other key.
 *
 * What this module does by hand is only splitting the pasted text into options, type, base64 and
 * comment (OpenSSH's authorized_keys line syntax), which sshpk's `ssh` format does not do for lines
 * with options, wrapped base64 or several keys.
 *
 * Every refusal is an AppError with an SshKeyError code; messages never quote the input (a private
 * key pasted by mistake must not reach a response, a log line or a table).
 */

export interface ParsedSshKey {
  keyType: SshKeyType;
  /** Bits: RSA modulus size; 256 / 384 / 521 for ECDSA; 256 for Ed25519. */
  keySize: number;
  /** `SHA256:` + unpadded base64 of SHA-256 over the key blob, as `ssh-keygen -l` prints it. */
  fingerprint: string;
  /** Lowercase hex of the same digest (a Table Storage safe key). */
  fingerprintHex: string;
  /** The normalised OpenSSH line: `type base64[ comment]` (options and line breaks dropped). */
  publicData: string;
  comment: string | null;
}

/** Longest publicData accepted (a 16384-bit RSA key line is about 2,800 characters). */
export const MAX_PUBLIC_DATA_CHARS = 16_384;
const MAX_COMMENT_CHARS = 1024;
const MAX_LINES = 200;

const fail = (code: SshKeyError, message: string) => sshKeyFailure(400, code, message);
const malformed = (why: string) => fail('invalidPublicKey', `The public key could not be parsed: ${why}.`);

// ---- private keys ----------------------------------------------------------------------------------

/**
 * Every pattern here runs on request input, so each must take linear time: no unbounded repetition
 * followed by something it has to search for (the label between BEGIN and PRIVATE KEY is bounded;
 * the two members of a private JSON Web Key are looked for separately, in either order).
 */
const PRIVATE_KEY_MARKERS = [
  /-----BEGIN[A-Z0-9 ]{0,40}PRIVATE KEY-----/i,
  /---- BEGIN SSH2 ENCRYPTED PRIVATE KEY ----/i,
  /PuTTY-User-Key-File-\d/i,
  // base64 of "openssh-key-v1\0" (the body of an OpenSSH private key file, pasted without its armour)
  /b3BlbnNzaC1rZXktdjE/,
];

/** A JSON Web Key with a private part: a `kty` member and a `d` member. */
const isPrivateJwk = (text: string) => text.includes('"kty"') && /"d"\s*:/.test(text);

/** Whether the text holds a private key (any armour we know, or a bare private key in DER/base64). */
export function looksLikePrivateKey(text: string): boolean {
  if (PRIVATE_KEY_MARKERS.some((marker) => marker.test(text)) || isPrivateJwk(text)) return true;
  const candidate = text.replace(/\s+/g, '');
  if (candidate.length < 64 || candidate.length > 20_000 || !/^[A-Za-z0-9+/]+=*$/.test(candidate)) return false;
  const der = Buffer.from(candidate, 'base64');
  for (const type of ['pkcs8', 'pkcs1', 'sec1'] as const) {
    try {
      createPrivateKey({ key: der, format: 'der', type });
      return true;
    } catch {
      // not this encoding
    }
  }
  return false;
}

const privateKeyRefusal = () =>
  fail(
    'privateKeyNotAllowed',
    'This is a private key. Paste the public key (the .pub file, e.g. ~/.ssh/id_ed25519.pub) and keep the private key secret; nothing was stored.',
  );

// ---- wire format -----------------------------------------------------------------------------------

/** Reads uint32-length-prefixed strings (RFC 4251 §5) and refuses anything out of bounds. */
export class WireReader {
  private offset = 0;

  constructor(private readonly buffer: Buffer) {}

  readString(maxLength = 16_384): Buffer {
    if (this.offset + 4 > this.buffer.length) throw malformed('the key data is truncated');
    const length = this.buffer.readUInt32BE(this.offset);
    if (length > maxLength || this.offset + 4 + length > this.buffer.length) throw malformed('the key data is truncated');
    const value = this.buffer.subarray(this.offset + 4, this.offset + 4 + length);
    this.offset += 4 + length;
    return value;
  }

  get atEnd(): boolean {
    return this.offset === this.buffer.length;
  }
}

export function wireString(value: Buffer | string): Buffer {
  const bytes = typeof value === 'string' ? Buffer.from(value, 'utf8') : value;
  const length = Buffer.alloc(4);
  length.writeUInt32BE(bytes.length);
  return Buffer.concat([length, bytes]);
}

/** The key type named at the start of a blob, or undefined when the blob does not start with one. */
function blobType(blob: Buffer): string | undefined {
  if (blob.length < 4) return undefined;
  const length = blob.readUInt32BE(0);
  if (length < 3 || length > 64 || blob.length < 4 + length) return undefined;
  const type = blob.subarray(4, 4 + length).toString('latin1');
  return /^[a-z0-9][a-z0-9@.-]*$/.test(type) ? type : undefined;
}

// ---- validation of the key material ------------------------------------------------------------------

/** sshpk and its crypto dependencies are loaded by the first parse: only SSH key routes need them. */
let sshpk: typeof Sshpk | undefined;
async function loadSshpk(): Promise<typeof Sshpk> {
  sshpk ??= (await import('sshpk')).default;
  return sshpk;
}
function loadedSshpk(): typeof Sshpk {
  if (!sshpk) throw new Error('sshpk is loaded by parsePublicKey');
  return sshpk;
}

const SSHPK_TYPES: Partial<Record<SshKeyType, { type: string; curve?: string }>> = {
  'ssh-ed25519': { type: 'ed25519' },
  'ecdsa-sha2-nistp256': { type: 'ecdsa', curve: 'nistp256' },
  'ecdsa-sha2-nistp384': { type: 'ecdsa', curve: 'nistp384' },
  'ecdsa-sha2-nistp521': { type: 'ecdsa', curve: 'nistp521' },
  'ssh-rsa': { type: 'rsa' },
};

/** Checks a plain (non-sk) key blob with sshpk and node:crypto; returns its size in bits. */
function checkPlainBlob(keyType: SshKeyType, blob: Buffer): number {
  const expected = SSHPK_TYPES[keyType];
  if (!expected) throw malformed('unexpected key type');
  let key: Sshpk.Key;
  try {
    key = loadedSshpk().parseKey(blob, 'rfc4253');
  } catch {
    throw malformed('the key data is truncated or corrupt');
  }
  if (key.type !== expected.type || (expected.curve !== undefined && key.curve !== expected.curve)) {
    throw malformed('the key data does not match its type');
  }
  // Trailing bytes or a non-canonical encoding would give the same key two fingerprints.
  if (!key.toBuffer('rfc4253').equals(blob)) throw malformed('the key data has trailing or non-canonical bytes');
  if (keyType === 'ssh-rsa') {
    if (key.size < MIN_RSA_BITS) {
      throw fail(
        'rsaKeyTooShort',
        `RSA keys need at least ${MIN_RSA_BITS} bits; this one has ${key.size}. Generate an Ed25519 key (ssh-keygen -t ed25519) or RSA with -b 3072.`,
      );
    }
    if (key.size > MAX_RSA_BITS) throw malformed(`RSA keys may have at most ${MAX_RSA_BITS} bits`);
  }
  try {
    createPublicKey(key.toString('pkcs8'));
  } catch {
    throw malformed('the key is not a valid point or number for its algorithm');
  }
  return key.size;
}

const APPLICATION = /^[\x20-\x7e]{1,256}$/;

/** sk-* (FIDO) keys: reads the outer format, then checks the embedded key as a plain key. */
function checkSecurityKeyBlob(keyType: SshKeyType, blob: Buffer): number {
  const reader = new WireReader(blob);
  reader.readString(64); // the type, already compared with the declared one
  let plain: Buffer;
  let plainType: SshKeyType;
  if (keyType === 'sk-ssh-ed25519@openssh.com') {
    const publicKey = reader.readString(64);
    if (publicKey.length !== 32) throw malformed('an Ed25519 public key has 32 bytes');
    plainType = 'ssh-ed25519';
    plain = Buffer.concat([wireString(plainType), wireString(publicKey)]);
  } else {
    const curve = reader.readString(64).toString('latin1');
    if (curve !== 'nistp256') throw malformed('sk-ecdsa keys use the nistp256 curve');
    const point = reader.readString(256);
    plainType = 'ecdsa-sha2-nistp256';
    plain = Buffer.concat([wireString(plainType), wireString(curve), wireString(point)]);
  }
  const application = reader.readString(256).toString('latin1');
  if (!APPLICATION.test(application)) throw malformed('the security key application is not printable text');
  if (!reader.atEnd) throw malformed('the key data has trailing bytes');
  checkPlainBlob(plainType, plain);
  return 256;
}

function checkBlob(declaredType: string, blob: Buffer): { keyType: SshKeyType; keySize: number } {
  const embedded = blobType(blob);
  if (embedded === undefined) throw malformed('the key data does not start with a key type');
  if (embedded !== declaredType) throw malformed('the key type does not match the key data');
  if (declaredType.endsWith('-cert-v01@openssh.com')) {
    throw fail('sshCertificateNotAllowed', 'SSH certificates cannot be registered; paste the public key the certificate was issued for.');
  }
  if (declaredType === 'ssh-dss') {
    throw fail('dsaKeyNotAllowed', 'DSA (ssh-dss) keys are insecure and not accepted; generate an Ed25519 key (ssh-keygen -t ed25519).');
  }
  if (!isSshKeyType(declaredType)) {
    throw fail(
      'unsupportedKeyType',
      `The key type '${declaredType}' is not supported. Supported: Ed25519, ECDSA (P-256/384/521), RSA (2048+ bits) and their security-key forms.`,
    );
  }
  const keySize = declaredType.startsWith('sk-') ? checkSecurityKeyBlob(declaredType, blob) : checkPlainBlob(declaredType, blob);
  return { keyType: declaredType, keySize };
}

// ---- text ------------------------------------------------------------------------------------------

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
/** A token that names a key type (known or not): `ssh-…`, `ecdsa-…`, `sk-…`, certificates. */
const TYPE_TOKEN = /^(?:ssh|ecdsa|sk|rsa|x509v3|webauthn|spki|pgp)-[a-z0-9@.-]{1,80}$/;

interface Token {
  text: string;
  /** The token starts a line. */
  lineStart: boolean;
}

function tokenize(text: string): Token[] {
  const tokens: Token[] = [];
  const lines = text.split(/\r\n|\r|\n/);
  if (lines.length > MAX_LINES) throw malformed('too many lines');
  for (const line of lines) {
    const trimmed = line.trim();
    if (trimmed === '' || trimmed.startsWith('#')) continue;
    trimmed.split(/[ \t]+/).forEach((part, i) => tokens.push({ text: part, lineStart: i === 0 }));
  }
  return tokens;
}

function decodeBase64(text: string): Buffer | undefined {
  if (!BASE64.test(text) || text.length % 4 === 1) return undefined;
  const bytes = Buffer.from(text, 'base64');
  // Buffer.from ignores garbage; insist that the text is exactly the encoding of the bytes.
  return bytes.toString('base64').replace(/=+$/, '') === text.replace(/=+$/, '') ? bytes : undefined;
}

interface Candidate {
  type: string;
  blob: Buffer;
  comment: string | null;
}

/**
 * Finds `type base64 [comment]` in the tokens. Base64 wrapped over several lines is joined: tokens
 * that start a line and look like base64 continue the blob (longest first, shorter if that fails).
 */
function lineCandidates(tokens: Token[]): { type: string; pieces: string[]; rest: Token[] }[] {
  const typeIndex = tokens.findIndex((token, i) => TYPE_TOKEN.test(token.text) && tokens[i + 1] !== undefined && BASE64.test(tokens[i + 1]?.text ?? ''));
  if (typeIndex < 0) return [];
  const type = tokens[typeIndex]?.text as string;
  const first = tokens[typeIndex + 1] as Token;
  const continuation: string[] = [];
  let next = typeIndex + 2;
  while (next < tokens.length) {
    const token = tokens[next] as Token;
    if (!token.lineStart || !BASE64.test(token.text) || /=$/.test(continuation.at(-1) ?? first.text)) break;
    continuation.push(token.text);
    next++;
  }
  const options = [];
  for (let k = continuation.length; k >= 0; k--) {
    options.push({ type, pieces: [first.text, ...continuation.slice(0, k)], rest: tokens.slice(typeIndex + 2 + k) });
  }
  return options;
}

function commentOf(rest: Token[]): string | null {
  // A second key line after the first one is a second key, not a comment.
  const second = rest.findIndex((token, i) => token.lineStart && TYPE_TOKEN.test(token.text) && BASE64.test(rest[i + 1]?.text ?? ''));
  if (second >= 0) throw fail('multiplePublicKeys', 'Paste one public key at a time.');
  const comment = rest.map((token) => token.text).join(' ');
  if (comment === '') return null;
  if (comment.length > MAX_COMMENT_CHARS) throw malformed(`the comment is longer than ${MAX_COMMENT_CHARS} characters`);
  if (/[\u0000-\u001f\u007f-\u009f]/.test(comment)) throw malformed('the comment contains control characters');
  return comment;
}

function fromArmoured(text: string): Candidate | undefined {
  if (!/^(?:---- BEGIN SSH2 PUBLIC KEY ----|-----BEGIN (?:RSA )?PUBLIC KEY-----)/.test(text)) return undefined;
  let key: Sshpk.Key;
  try {
    key = loadedSshpk().parseKey(text, 'auto');
  } catch {
    throw malformed('the armoured public key is corrupt');
  }
  const blob = key.toBuffer('rfc4253');
  const type = blobType(blob);
  if (!type) throw malformed('unexpected key type');
  return { type, blob, comment: null };
}

function fingerprintOf(blob: Buffer): { fingerprint: string; fingerprintHex: string } {
  const digest = createHash('sha256').update(blob).digest();
  return { fingerprint: `SHA256:${digest.toString('base64').replace(/=+$/, '')}`, fingerprintHex: digest.toString('hex') };
}

/**
 * Parses pasted public key text: an OpenSSH line (with or without authorized_keys options and a
 * comment, base64 possibly wrapped over lines), the bare base64 blob, or an RFC 4716 / PEM public key.
 */
export async function parsePublicKey(input: string): Promise<ParsedSshKey> {
  await loadSshpk();
  if (input.length > MAX_PUBLIC_DATA_CHARS) throw malformed(`publicData is longer than ${MAX_PUBLIC_DATA_CHARS} characters`);
  if (looksLikePrivateKey(input)) throw privateKeyRefusal();
  const text = input.replace(/^\uFEFF/, '').trim();
  if (text === '') throw fail('publicDataRequired', 'publicData (an OpenSSH public key line) is required.');

  const armoured = fromArmoured(text);
  if (armoured) return finish(armoured, checkBlob(armoured.type, armoured.blob));

  const tokens = tokenize(text);
  const candidates = lineCandidates(tokens);
  if (candidates.length === 0) {
    // Only the base64 part, or something that is not a key at all.
    const only = tokens.length === 1 ? decodeBase64(tokens[0]?.text ?? '') : undefined;
    const type = only && blobType(only);
    if (only && type) return finish({ type, blob: only, comment: null }, checkBlob(type, only));
    const typeToken = tokens.find((token) => TYPE_TOKEN.test(token.text));
    if (typeToken) throw malformed('the key type is not followed by base64 key data');
    throw malformed("expected an OpenSSH public key line such as 'ssh-ed25519 AAAA… comment'");
  }

  let firstError: unknown;
  for (const candidate of candidates) {
    const blob = decodeBase64(candidate.pieces.join(''));
    try {
      if (!blob) throw malformed('the key data is not valid base64 (truncated?)');
      const checked = checkBlob(candidate.type, blob);
      return finish({ type: candidate.type, blob, comment: commentOf(candidate.rest) }, checked);
    } catch (error) {
      firstError ??= error;
      // Only a blob that failed to parse is retried with fewer wrapped pieces.
      if (!(error instanceof Error && 'code' in error && (error as { code: string }).code === 'invalidPublicKey')) throw error;
    }
  }
  throw firstError;
}

function finish(candidate: Candidate, checked: { keyType: SshKeyType; keySize: number }): ParsedSshKey {
  const base64 = candidate.blob.toString('base64');
  return {
    keyType: checked.keyType,
    keySize: checked.keySize,
    ...fingerprintOf(candidate.blob),
    publicData: candidate.comment ? `${checked.keyType} ${base64} ${candidate.comment}` : `${checked.keyType} ${base64}`,
    comment: candidate.comment,
  };
}

/**
 * Normalises a fingerprint given to the lookup: `SHA256:` + base64 (padding optional) of 32 bytes.
 * Returns the hex digest, or undefined.
 */
export function fingerprintHexOf(fingerprint: string): string | undefined {
  const match = /^SHA256:([A-Za-z0-9+/]{43})=?$/.exec(fingerprint.trim());
  if (!match?.[1]) return undefined;
  const digest = Buffer.from(`${match[1]}=`, 'base64');
  return digest.length === 32 ? digest.toString('hex') : undefined;
}
