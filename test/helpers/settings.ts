import { expect } from 'vitest';
import { ConfigurationError, loadConfig } from '../../shared/config.js';

/** A pepper setting (version 1) for configuration tests. */
export const TEST_PEPPER = `1:${Buffer.alloc(32, 7).toString('base64')}`;
/** An inline JWKS setting for configuration tests (never used to verify a token). */
export const TEST_JWKS = JSON.stringify({ keys: [{ kty: 'RSA', n: 'abc', e: 'AQAB' }] });

/** The smallest complete app settings: every required setting, everything else at its default. */
export const BASE_SETTINGS = {
  STORAGE: 'UseDevelopmentStorage=true',
  AUTH_ISSUER: 'https://login.example.test/tenant/v2.0',
  AUTH_AUDIENCE: 'api://gatehouse',
  AUTH_JWKS: TEST_JWKS,
  TOKEN_PEPPERS: TEST_PEPPER,
};

/** The problems `loadConfig` reports for settings it must refuse (fails the test when it accepts them). */
export function configProblems(env: Record<string, string | undefined>): string[] {
  try {
    loadConfig(env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigurationError);
    return (error as ConfigurationError).problems;
  }
  throw new Error('expected a configuration error');
}
