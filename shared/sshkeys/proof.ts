import { createHash, createHmac, createPublicKey, randomBytes, timingSafeEqual, verify, type KeyObject } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { sshKeyFailure } from '../http/errors.js';
import { currentPepper, derivedKey, derivedKeyOf } from '../secrets/hashing.js';
import { WireReader, wireString } from './keys.js';

/**
 * Proof of possession of an SSH key, against key squatting: anyone could register someone else's
 * public key first, and git servers would attribute the key to them. A caller asks for a challenge
 * (bound to them and the organization, valid for CHALLENGE_TTL_MS) and signs it with the private key:
 *
 *     printf '%s' "$CHALLENGE" | ssh-keygen -Y sign -f ~/.ssh/id_ed25519 -n gatehouse-ssh-key-proof
 *
 * The armoured SSHSIG (OpenSSH PROTOCOL.sshsig) goes into the create request as
 * `proofOfPossession: { challenge, signature }`. A proven registration is marked `proven`; it takes
 * the key over from an unproven registration of another user in the organization (that one is revoked),
 * and it can itself never be taken over.
 */
export const PROOF_NAMESPACE = 'gatehouse-ssh-key-proof';
export const CHALLENGE_TTL_MS = 10 * 60_000;

export const proofOfPossessionSchema = z
  .object({
    challenge: z.string().max(200).describe('From GET …/_apis/tokens/sshkeys/challenge.'),
    signature: z.string().max(16_384).describe('The armoured SSH signature of the challenge (ssh-keygen -Y sign, namespace gatehouse-ssh-key-proof).'),
  })
  .strict()
  .describe('Proves possession of the private key; a proven key cannot be squatted (see docs/api.md, "Key squatting").');
export type ProofOfPossession = z.infer<typeof proofOfPossessionSchema>;

const CHALLENGE_PURPOSE = 'ssh-key-challenge';
const challengeKey = (app: AppContext, version: string) => derivedKeyOf(app.config.peppers, version, CHALLENGE_PURPOSE);

const mac = (key: Buffer, body: string, userId: string, organizationId: string) =>
  createHmac('sha256', key).update(`${body}|${userId.toLowerCase()}|${organizationId.toLowerCase()}`).digest('base64url');

/** A challenge for this caller in this organization: `ghsk1.<key version>.<expiry ms>.<nonce>.<mac>`. */
export function issueChallenge(app: AppContext, userId: string, organizationId: string): { challenge: string; namespace: string; expiresOn: string } {
  const version = currentPepper(app.config.peppers).version;
  const expires = app.clock.now().getTime() + CHALLENGE_TTL_MS;
  const body = `ghsk1.${version}.${expires}.${randomBytes(16).toString('base64url')}`;
  const key = derivedKey(app.config.peppers, CHALLENGE_PURPOSE);
  return { challenge: `${body}.${mac(key, body, userId, organizationId)}`, namespace: PROOF_NAMESPACE, expiresOn: new Date(expires).toISOString() };
}

const invalidProof = (message: string) => sshKeyFailure(400, 'invalidProofOfPossession', message);

function checkChallenge(app: AppContext, challenge: string, userId: string, organizationId: string): void {
  const [, body, version, expiry, givenMac] = /^(ghsk1\.([A-Za-z0-9]{1,8})\.(\d{13,15})\.[A-Za-z0-9_-]{22})\.([A-Za-z0-9_-]{43})$/.exec(challenge) ?? [];
  const key = version === undefined ? undefined : challengeKey(app, version);
  if (body === undefined || expiry === undefined || givenMac === undefined || !key) throw invalidProof('The challenge is not one Gatehouse issued.');
  const expected = Buffer.from(mac(key, body, userId, organizationId));
  const given = Buffer.from(givenMac);
  if (expected.length !== given.length || !timingSafeEqual(expected, given)) {
    throw invalidProof('The challenge was issued to someone else or for another organization.');
  }
  if (Number(expiry) < app.clock.now().getTime()) throw invalidProof('The challenge has expired; ask for a new one.');
}

const unsigned = (mpint: Buffer) => {
  let start = 0;
  while (start < mpint.length - 1 && mpint[start] === 0) start++;
  return mpint.subarray(start);
};

/** The ECDSA key (and signature) types, by their SSH names. */
const CURVES = new Map([
  ['ecdsa-sha2-nistp256', { crv: 'P-256', size: 32, hash: 'sha256' }],
  ['ecdsa-sha2-nistp384', { crv: 'P-384', size: 48, hash: 'sha384' }],
  ['ecdsa-sha2-nistp521', { crv: 'P-521', size: 66, hash: 'sha512' }],
]);

/** A node:crypto key from an SSH public key blob (Ed25519, RSA, ECDSA). */
function keyFromBlob(blob: Buffer): { key: KeyObject; type: string } {
  const reader = new WireReader(blob);
  const type = reader.readString().toString();
  if (type === 'ssh-ed25519') {
    return { type, key: createPublicKey({ key: { kty: 'OKP', crv: 'Ed25519', x: reader.readString().toString('base64url') }, format: 'jwk' }) };
  }
  if (type === 'ssh-rsa') {
    const e = unsigned(reader.readString());
    const n = unsigned(reader.readString());
    return { type, key: createPublicKey({ key: { kty: 'RSA', n: n.toString('base64url'), e: e.toString('base64url') }, format: 'jwk' }) };
  }
  const curve = CURVES.get(type);
  if (curve) {
    const { crv, size } = curve;
    reader.readString();
    const point = reader.readString();
    if (point.length !== 1 + 2 * size || point[0] !== 4) throw new Error('unsupported point');
    const x = point.subarray(1, 1 + size).toString('base64url');
    const y = point.subarray(1 + size).toString('base64url');
    return { type, key: createPublicKey({ key: { kty: 'EC', crv, x, y }, format: 'jwk' }) };
  }
  throw new Error(`proofs of ${type} keys are not supported`);
}

function verifySshSignature(key: { key: KeyObject; type: string }, data: Buffer, signatureBlob: Buffer): boolean {
  const reader = new WireReader(signatureBlob);
  const format = reader.readString().toString();
  const raw = reader.readString();
  if (key.type === 'ssh-ed25519' && format === 'ssh-ed25519') return verify(null, data, key.key, raw);
  if (key.type === 'ssh-rsa' && (format === 'rsa-sha2-256' || format === 'rsa-sha2-512')) {
    return verify(format === 'rsa-sha2-256' ? 'sha256' : 'sha512', data, key.key, raw);
  }
  const curve = CURVES.get(format);
  if (curve && key.type === format) {
    const { size, hash } = curve;
    const parts = new WireReader(raw);
    const r = unsigned(parts.readString());
    const s = unsigned(parts.readString());
    if (r.length > size || s.length > size) return false;
    const p1363 = Buffer.concat([Buffer.alloc(size - r.length), r, Buffer.alloc(size - s.length), s]);
    return verify(hash, data, { key: key.key, dsaEncoding: 'ieee-p1363' }, p1363);
  }
  return false;
}

/**
 * Checks a proof for the key whose blob hashes to `fingerprintHex`: the challenge is this caller's,
 * for this organization and not expired, and the SSHSIG is over it, in our namespace, by that key.
 * Any failure is a 400 invalidProofOfPossession.
 */
export function verifyProofOfPossession(
  app: AppContext,
  proof: ProofOfPossession,
  expected: { fingerprintHex: string; userId: string; organizationId: string },
): void {
  checkChallenge(app, proof.challenge, expected.userId, expected.organizationId);
  const [, armoured] = /^\s*-----BEGIN SSH SIGNATURE-----([A-Za-z0-9+/=\s]+)-----END SSH SIGNATURE-----\s*$/.exec(proof.signature) ?? [];
  if (armoured === undefined) throw invalidProof('The signature is not an armoured SSH signature (ssh-keygen -Y sign output).');
  let ok: boolean;
  try {
    const decoded = Buffer.from(armoured.replace(/\s+/g, ''), 'base64');
    if (decoded.length < 10 || decoded.subarray(0, 6).toString() !== 'SSHSIG' || decoded.readUInt32BE(6) !== 1) {
      throw invalidProof('The signature is not an SSHSIG version 1.');
    }
    const reader = new WireReader(decoded.subarray(10));
    const publicKey = reader.readString();
    const namespace = reader.readString().toString();
    const reserved = reader.readString();
    const hashAlgorithm = reader.readString().toString();
    const signature = reader.readString();
    if (createHash('sha256').update(publicKey).digest('hex') !== expected.fingerprintHex) {
      throw invalidProof('The signature was made with another key than the one being registered.');
    }
    if (namespace !== PROOF_NAMESPACE) throw invalidProof(`The signature must use the namespace ${PROOF_NAMESPACE} (ssh-keygen -n).`);
    if (hashAlgorithm !== 'sha256' && hashAlgorithm !== 'sha512') throw invalidProof('The signature must hash with sha256 or sha512.');
    const digest = createHash(hashAlgorithm).update(proof.challenge, 'utf8').digest();
    const signed = Buffer.concat([Buffer.from('SSHSIG'), wireString(namespace), wireString(reserved), wireString(hashAlgorithm), wireString(digest)]);
    ok = verifySshSignature(keyFromBlob(publicKey), signed, signature);
  } catch (error) {
    if (error instanceof Error && 'code' in error && (error as { code: string }).code === 'invalidProofOfPossession') throw error;
    throw invalidProof('The signature cannot be read or names an unsupported key type.');
  }
  if (!ok) throw invalidProof('The signature does not verify against the key and the challenge.');
}
