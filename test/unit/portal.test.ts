import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import { loadConfig } from '../../shared/config.js';
import { buildOpenApiDocument } from '../../shared/openapi/document.js';
import { portalContentSecurityPolicy, portalSignIn, DEVELOPMENT_ISSUER, PORTAL_SCOPES } from '../../shared/portal/config.js';
import { API_TYPES_FILE, apiTypesOf } from '../../tools/web/openapi-types.mjs';
import { BASE_SETTINGS } from '../helpers/settings.js';

describe('portal sign-in settings', () => {
  it('offers Microsoft Entra ID with the API scopes when PORTAL_CLIENT_ID is set', () => {
    const config = loadConfig({ ...BASE_SETTINGS, PORTAL_CLIENT_ID: '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f' });
    const signIn = portalSignIn(config);
    expect(signIn).toEqual({
      kind: 'entra',
      clientId: '6f1c2d3e-4a5b-4c6d-8e9f-0a1b2c3d4e5f',
      authority: 'https://login.example.test/tenant',
      scopes: PORTAL_SCOPES.map((scope) => `api://gatehouse/${scope}`),
    });
    const policy = portalContentSecurityPolicy(signIn);
    expect(policy).toContain("script-src 'self';");
    expect(policy).toContain("connect-src 'self' https://login.example.test;");
    expect(policy).not.toContain('unsafe');
  });

  it('offers the development sign-in only for the development issuer, and nothing without a client id', () => {
    expect(portalSignIn(loadConfig({ ...BASE_SETTINGS, AUTH_ISSUER: DEVELOPMENT_ISSUER })).kind).toBe('development');
    expect(portalSignIn(loadConfig(BASE_SETTINGS)).kind).toBe('unavailable');
    expect(portalSignIn(loadConfig({ ...BASE_SETTINGS, PORTAL_CLIENT_ID: '' })).kind).toBe('unavailable');
    expect(portalContentSecurityPolicy({ kind: 'development' })).toContain("frame-src 'none'");
  });

  it('refuses a PORTAL_AUTHORITY that is not https', () => {
    expect(() => loadConfig({ ...BASE_SETTINGS, PORTAL_AUTHORITY: 'http://login.example.test/tenant' })).toThrow(/PORTAL_AUTHORITY/);
  });
});

describe('portal API types', () => {
  it('are generated from the current OpenAPI document (npm run build regenerates them)', async () => {
    const expected = await apiTypesOf(buildOpenApiDocument(declarations, '0.0.0'));
    expect(readFileSync(API_TYPES_FILE, 'utf8') === expected, 'web/src/api/schema.d.ts is out of date: run npm run build').toBe(true);
  });
});
