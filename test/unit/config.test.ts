import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from '../../shared/config.js';
import { BASE_SETTINGS, configProblems as problemsOf, TEST_PEPPER } from '../helpers/settings.js';

const pepper = TEST_PEPPER;
const valid = BASE_SETTINGS;

describe('configuration', () => {
  it('accepts a complete connection-string configuration with defaults', () => {
    const config = loadConfig(valid);
    expect(config.storage).toEqual({ kind: 'connectionString', connectionString: 'UseDevelopmentStorage=true' });
    expect(config.maxRequestBodyBytes).toBe(1024 * 1024);
    expect(config.auth.clockSkewSeconds).toBe(60);
    expect(config.peppers).toHaveLength(1);
    expect(config.peppers[0]?.version).toBe('1');
    expect(config.telemetry.tracesPerSecond).toBe(5);
  });

  it('lists every missing setting at once', () => {
    const problems = problemsOf({});
    expect(problems).toEqual(
      expect.arrayContaining([
        expect.stringMatching(/^AUTH_ISSUER: is required/),
        expect.stringMatching(/^AUTH_AUDIENCE: is required/),
        expect.stringMatching(/^TOKEN_PEPPERS: is required/),
        expect.stringMatching(/^STORAGE: set STORAGE/),
        expect.stringMatching(/^AUTH_JWKS_URI: set AUTH_JWKS_URI/),
      ]),
    );
  });

  it('reports invalid values with the setting name', () => {
    const problems = problemsOf({
      ...valid,
      TOKEN_PEPPERS: '1:dG9vc2hvcnQ=',
      AUTH_JWKS_URI: 'http://keys.example.test/jwks',
      AUTH_JWKS: undefined,
      LOG_LEVEL: 'loud',
      MAX_REQUEST_BODY_BYTES: '-5',
      TELEMETRY_TRACES_PER_SECOND: '0',
    });
    expect(problems.some((p) => p.startsWith('TOKEN_PEPPERS:') && p.includes('32 bytes'))).toBe(true);
    expect(problems.some((p) => p.startsWith('AUTH_JWKS_URI:') && p.includes('https'))).toBe(true);
    expect(problems.some((p) => p.startsWith('LOG_LEVEL:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('MAX_REQUEST_BODY_BYTES:'))).toBe(true);
    expect(problems.some((p) => p.startsWith('TELEMETRY_TRACES_PER_SECOND:'))).toBe(true);
    expect(loadConfig({ ...valid, TELEMETRY_TRACES_PER_SECOND: '0.5' }).telemetry.tracesPerSecond).toBe(0.5);
  });

  it('refuses duplicated pepper versions and malformed JWKS', () => {
    expect(problemsOf({ ...valid, TOKEN_PEPPERS: `${pepper},${pepper}` }).join()).toMatch(/listed twice/);
    expect(problemsOf({ ...valid, AUTH_JWKS: '{not json' }).join()).toMatch(/AUTH_JWKS/);
  });

  it('keeps the pepper order: the first entry is current', () => {
    const second = `2:${Buffer.alloc(48, 9).toString('base64')}`;
    const config = loadConfig({ ...valid, TOKEN_PEPPERS: `${second},${pepper}` });
    expect(config.peppers.map((p) => p.version)).toEqual(['2', '1']);
  });

  it('accepts identity-based storage settings', () => {
    const config = loadConfig({
      ...valid,
      STORAGE: undefined,
      STORAGE__tableServiceUri: 'https://acct.table.core.windows.net',
      STORAGE__queueServiceUri: 'https://acct.queue.core.windows.net',
      STORAGE__blobServiceUri: 'https://acct.blob.core.windows.net',
      STORAGE__credential: 'managedidentity',
      STORAGE__clientId: '6f1c2b55-7c1e-4a52-9a43-3f7b0c0d2e11',
    });
    expect(config.storage).toMatchObject({ kind: 'identity', managedIdentityClientId: '6f1c2b55-7c1e-4a52-9a43-3f7b0c0d2e11' });
  });

  it('reads *_FILE settings for secrets and reports unreadable files', () => {
    const directory = mkdtempSync(join(tmpdir(), 'gatehouse-config-'));
    writeFileSync(join(directory, 'peppers'), `${pepper}\n`);
    const config = loadConfig({ ...valid, TOKEN_PEPPERS: undefined, TOKEN_PEPPERS_FILE: join(directory, 'peppers') });
    expect(config.peppers).toHaveLength(1);
    expect(problemsOf({ ...valid, TOKEN_PEPPERS: undefined, TOKEN_PEPPERS_FILE: join(directory, 'missing') }).join()).toMatch(
      /TOKEN_PEPPERS_FILE: cannot read file/,
    );
  });

  it('never echoes a secret value in its messages', () => {
    const secret = `1:${Buffer.alloc(8, 1).toString('base64')}`;
    const problems = problemsOf({ ...valid, TOKEN_PEPPERS: secret });
    expect(problems.join()).not.toContain(secret.slice(2));
  });

  it('keeps outbound exceptions off by default and refuses them on Azure; parses trusted proxies', () => {
    const defaults = loadConfig(BASE_SETTINGS);
    expect(defaults.outbound.allowedPrivateHosts).toEqual([]);
    expect(defaults.trustedProxies).toEqual([]);
    expect(loadConfig({ ...BASE_SETTINGS, OUTBOUND_ALLOWED_PRIVATE_HOSTS: 'localhost, [::1]' }).outbound.allowedPrivateHosts).toEqual(['localhost', '::1']);
    expect(problemsOf({ ...BASE_SETTINGS, OUTBOUND_ALLOWED_PRIVATE_HOSTS: 'localhost', WEBSITE_INSTANCE_ID: 'abc' }).join()).toContain(
      'OUTBOUND_ALLOWED_PRIVATE_HOSTS',
    );
    expect(loadConfig({ ...BASE_SETTINGS, TRUSTED_PROXIES: '10.0.0.0/8, 2001:db8::/32, 192.0.2.1' }).trustedProxies).toEqual([
      { network: '10.0.0.0', prefix: 8, family: 4 },
      { network: '2001:db8::', prefix: 32, family: 6 },
      { network: '192.0.2.1', prefix: 32, family: 4 },
    ]);
    for (const bad of ['10.0.0.0/33', 'not-an-ip', '10.0.0.0/x'])
      expect(problemsOf({ ...BASE_SETTINGS, TRUSTED_PROXIES: bad }).join(), bad).toContain('TRUSTED_PROXIES');
  });
});
