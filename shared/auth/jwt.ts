import { createHash } from 'node:crypto';
import { createLocalJWKSet, createRemoteJWKSet, customFetch, jwtVerify, type JWTPayload, type JSONWebKeySet } from 'jose';
import { TtlCache } from '../cache.js';
import type { AppConfig } from '../config.js';
import type { Clock } from '../clock.js';

/** Claims Gatehouse reads from a Microsoft Entra ID shaped access token. */
export interface EntraClaims extends JWTPayload {
  oid?: string;
  tid?: string;
  azp?: string;
  appid?: string;
  preferred_username?: string;
  name?: string;
  scp?: string;
  roles?: string[];
}

export type JwtVerifier = (token: string) => Promise<EntraClaims | undefined>;

/** A verified token is trusted again without its signature check for at most this long (and never past exp). */
const VERIFIED_TTL_MS = 60_000;
const VERIFIED_MAX_ENTRIES = 10_000;

/**
 * Verifies signature (RS256 only), issuer, audience and lifetime; anything wrong yields undefined.
 * Callers send the same token for its whole lifetime, so a verified one is remembered (by its SHA-256)
 * for a minute: the lifetime is still checked on every use; a signing key removed from the JWKS stops
 * being honoured within that minute.
 */
export function createJwtVerifier(auth: AppConfig['auth'], clock: Clock, fetchKeys?: (url: string) => Promise<Response>): JwtVerifier {
  const keys = auth.jwksUri
    ? createRemoteJWKSet(new URL(auth.jwksUri), {
        cooldownDuration: 30_000,
        cacheMaxAge: 10 * 60_000,
        ...(fetchKeys ? { [customFetch]: (url: string) => fetchKeys(url) } : {}),
      })
    : createLocalJWKSet(auth.jwks as unknown as JSONWebKeySet);
  const verified = new TtlCache<EntraClaims>(
    () => VERIFIED_TTL_MS,
    () => VERIFIED_MAX_ENTRIES,
  );
  const skewMs = auth.clockSkewSeconds * 1000;
  const current = (claims: EntraClaims, now: number) =>
    typeof claims.exp === 'number' && now < claims.exp * 1000 + skewMs && (typeof claims.nbf !== 'number' || now >= claims.nbf * 1000 - skewMs);
  return async (token) => {
    const key = createHash('sha256').update(token, 'utf8').digest('base64url');
    const now = clock.now().getTime();
    const known = verified.get(key, now);
    if (known) return current(known, now) ? known : undefined;
    const claims = await verify(token);
    if (claims) verified.set(key, claims, now);
    return claims;
  };

  async function verify(token: string): Promise<EntraClaims | undefined> {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: auth.issuer,
        audience: auth.audience,
        algorithms: ['RS256'],
        clockTolerance: auth.clockSkewSeconds,
        currentDate: clock.now(),
        requiredClaims: ['exp', 'tid'],
      });
      return payload;
    } catch {
      return undefined;
    }
  }
}
