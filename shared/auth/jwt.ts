import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JWTPayload, type JSONWebKeySet } from 'jose';
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

/** Verifies signature (RS256 only), issuer, audience and lifetime; anything wrong yields undefined. */
export function createJwtVerifier(auth: AppConfig['auth'], clock: Clock): JwtVerifier {
  const keys = auth.jwksUri
    ? createRemoteJWKSet(new URL(auth.jwksUri), { cooldownDuration: 30_000, cacheMaxAge: 10 * 60_000 })
    : createLocalJWKSet(auth.jwks as unknown as JSONWebKeySet);
  return async (token) => {
    try {
      const { payload } = await jwtVerify(token, keys, {
        issuer: auth.issuer,
        audience: auth.audience,
        algorithms: ['RS256'],
        clockTolerance: auth.clockSkewSeconds,
        currentDate: clock.now(),
        requiredClaims: ['exp', 'tid'],
      });
      return payload as EntraClaims;
    } catch {
      return undefined;
    }
  };
}
