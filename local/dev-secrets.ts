import { randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportJWK, generateKeyPair, importJWK, SignJWT, type JWK } from 'jose';

/**
 * Development-only secrets, created on first start in a gitignored folder: the key that signs local
 * access tokens (its public half is the JWKS the app trusts) and the token pepper.
 */
export const DEV_SECRETS_DIR = '.local';

export interface SigningKey {
  readonly privateJwk: JWK;
  readonly publicJwks: { keys: JWK[] };
}

export async function generateSigningKey(): Promise<SigningKey> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true, modulusLength: 2048 });
  const kid = randomUUID();
  const privateJwk = { ...(await exportJWK(privateKey)), kid, alg: 'RS256', use: 'sig' };
  const publicJwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { privateJwk, publicJwks: { keys: [publicJwk] } };
}

/** The file in `.local/` holding the local runtime's admin (master) key. */
export const MASTER_KEY_FILE = 'master-key';

export function generateMasterKey(): string {
  return randomBytes(32).toString('base64url');
}

/** The local runtime's master key (created by ensureDevSecrets). */
export function readMasterKey(directory = DEV_SECRETS_DIR): string {
  return readFileSync(join(directory, MASTER_KEY_FILE), 'utf8').trim();
}

export function generatePepperSetting(version = '1'): string {
  return `${version}:${randomBytes(32).toString('base64')}`;
}

/** Creates the signing key and pepper files unless they exist; returns the signing key. */
export async function ensureDevSecrets(directory = DEV_SECRETS_DIR): Promise<SigningKey> {
  mkdirSync(directory, { recursive: true, mode: 0o700 });
  const keyPath = join(directory, 'signing-key.json');
  const jwksPath = join(directory, 'jwks.json');
  const pepperPath = join(directory, 'peppers');
  if (!existsSync(keyPath) || !existsSync(jwksPath)) {
    const key = await generateSigningKey();
    writeFileSync(keyPath, JSON.stringify(key.privateJwk), { mode: 0o600 });
    writeFileSync(jwksPath, JSON.stringify(key.publicJwks));
  }
  if (!existsSync(pepperPath)) writeFileSync(pepperPath, generatePepperSetting(), { mode: 0o600 });
  const masterKeyPath = join(directory, MASTER_KEY_FILE);
  if (!existsSync(masterKeyPath)) writeFileSync(masterKeyPath, generateMasterKey(), { mode: 0o600 });
  return {
    privateJwk: JSON.parse(readFileSync(keyPath, 'utf8')) as JWK,
    publicJwks: JSON.parse(readFileSync(jwksPath, 'utf8')) as { keys: JWK[] },
  };
}

export interface TokenRequest {
  readonly issuer: string;
  readonly audience: string;
  readonly tenantId: string;
  readonly lifetimeSeconds?: number;
  readonly now?: Date;
  readonly claims: Record<string, unknown>;
}

/** Signs an Entra ID shaped access token with the development key. */
export async function signAccessToken(key: SigningKey, request: TokenRequest): Promise<string> {
  const privateKey = await importJWK(key.privateJwk, 'RS256');
  const issuedAt = Math.floor((request.now ?? new Date()).getTime() / 1000);
  return new SignJWT({ ...request.claims, tid: request.tenantId, ver: '2.0' })
    .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: key.privateJwk.kid ?? '' })
    .setIssuer(request.issuer)
    .setAudience(request.audience)
    .setIssuedAt(issuedAt)
    .setNotBefore(issuedAt)
    .setExpirationTime(issuedAt + (request.lifetimeSeconds ?? 3600))
    .setJti(randomUUID())
    .sign(privateKey);
}
