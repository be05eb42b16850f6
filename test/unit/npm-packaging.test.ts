import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { createRouteTable, matchRoute, parseRouteTemplate } from '../../shared/runtime/routes.js';
import { highestVersion, parseDistTag, parseNpmPackageName, parseNpmVersion } from '../../shared/packaging/npm-names.js';
import { distTagTarget, readTarget, registryRequest } from '../../shared/packaging/paths.js';
import { matchesChecksum } from '../../shared/packaging/upstream.js';

describe('route templates with a literal prefix', () => {
  it('captures the value after the prefix and ranks above a plain parameter', () => {
    const scoped = parseRouteTemplate('feeds/{feedId}/npm/packages/@{packageScope}/{unscopedPackageName}/upstreaming');
    expect(matchRoute(scoped, ['feeds', 'f', 'npm', 'packages', '@contoso', 'widget', 'upstreaming'])).toEqual({
      feedId: 'f',
      packageScope: 'contoso',
      unscopedPackageName: 'widget',
    });
    expect(matchRoute(scoped, ['feeds', 'f', 'npm', 'packages', 'contoso', 'widget', 'upstreaming'])).toBeUndefined();
    expect(matchRoute(scoped, ['feeds', 'f', 'npm', 'packages', '@', 'widget', 'upstreaming'])).toBeUndefined();
    const table = createRouteTable([
      { route: 'x/{a}/{b}', methods: ['GET'], value: 'plain' },
      { route: 'x/@{scope}/{b}', methods: ['GET'], value: 'scoped' },
    ]);
    expect(table.find('GET', ['x', '@s', 'n'])?.entry).toBe('scoped');
    expect(table.find('GET', ['x', 's', 'n'])?.entry).toBe('plain');
    expect(() => parseRouteTemplate('x/@{*rest}')).toThrow(/unsupported/);
  });
});

describe('npm names, versions and tags', () => {
  it('accepts npm names and refuses path tricks', () => {
    expect(parseNpmPackageName('@contoso/widget')).toEqual({ name: '@contoso/widget', scope: 'contoso', unscoped: 'widget' });
    expect(parseNpmPackageName('left-pad').unscoped).toBe('left-pad');
    expect(parseNpmPackageName('JSONStream').name).toBe('JSONStream'); // a legacy name can be read
    for (const bad of ['', '../x', '@a/../b', '@a/b/c', 'a\\b', '.x', '@a', 'x'.repeat(215), 'a b']) {
      expect(() => parseNpmPackageName(bad), bad).toThrow(/not a valid npm package name/);
    }
    expect(() => parseNpmPackageName('JSONStream', 'publish')).toThrow();
  });

  it('takes canonical semantic versions only and sorts them', () => {
    expect(parseNpmVersion('1.2.3-beta.1')).toBe('1.2.3-beta.1');
    // npm drops build metadata when it normalizes a version, so a version carrying it is not canonical.
    for (const bad of ['v1.2.3', '1.2', '01.2.3', ' 1.2.3', '1.2.3 ', '1.2.3+build.5']) expect(() => parseNpmVersion(bad), bad).toThrow();
    expect(highestVersion(['1.10.0', '1.9.0', '2.0.0-rc.1'])).toBe('1.10.0');
    expect(highestVersion(['2.0.0-rc.1', '2.0.0-rc.2'])).toBe('2.0.0-rc.2');
    expect(parseDistTag('next')).toBe('next');
    expect(() => parseDistTag('1.0.0')).toThrow();
    expect(() => parseDistTag('^1')).toThrow();
  });
});

describe('registry paths', () => {
  const base = 'http://h:1/api/contoso/_packaging/main/npm/registry';
  it('reads @scope%2fname and @scope/name the same way', () => {
    expect(registryRequest(`${base}/@contoso%2fwidget`)).toEqual({ registryUrl: `${base}/`, segments: ['@contoso', 'widget'] });
    expect(readTarget(registryRequest(`${base}/@contoso/widget/-/widget-1.0.0.tgz`).segments)).toMatchObject({
      kind: 'tarball',
      file: 'widget-1.0.0.tgz',
      name: { name: '@contoso/widget' },
    });
    expect(distTagTarget(registryRequest(`${base}/-/package/@contoso%2Fwidget/dist-tags/next`).segments)).toMatchObject({
      tag: 'next',
      name: { name: '@contoso/widget' },
    });
    expect(() => readTarget(registryRequest(`${base}/..%2f..%2fetc`).segments)).toThrow(/not a valid npm package name/);
    expect(() => registryRequest(`${base}/%E0%A4%A`)).toThrow(/URL encoding/);
  });
});

describe('checksums', () => {
  it('prefers sha512 and falls back to the sha1 shasum', () => {
    const data = Buffer.from('tarball');
    const sha512 = `sha512-${createHash('sha512').update(data).digest('base64')}`;
    const sha1 = createHash('sha1').update(data).digest('hex');
    expect(matchesChecksum(data, sha512, undefined)).toBe(true);
    expect(matchesChecksum(data, `sha1-${Buffer.from(sha1, 'hex').toString('base64')} ${sha512}`, undefined)).toBe(true);
    expect(matchesChecksum(Buffer.from('other'), sha512, sha1)).toBe(false);
    expect(matchesChecksum(data, undefined, sha1)).toBe(true);
    expect(matchesChecksum(data, undefined, undefined)).toBe(false);
  });
});
