import { describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import { checkApiVersion, isApiVersionInRange, requestedApiVersion, type ApiVersionRange } from '../../shared/http/api-versions.js';
import { resourceLocations, type LocationLevel } from '../../shared/http/locations.js';
import type { HttpDeclaration } from '../../shared/runtime/declarations.js';
import { createRouteTable } from '../../shared/runtime/routes.js';
import { AppError } from '../../shared/http/errors.js';

const http = declarations.filter((declaration): declaration is HttpDeclaration => declaration.kind === 'http');

describe('api-version ranges', () => {
  const pats: ApiVersionRange = { min: '6.1', max: '7.2', released: '7.1', resourceVersion: 1 };
  const audit: ApiVersionRange = { min: '5.1', max: '7.2', resourceVersion: 1 };

  it('serves every version from the minimum to the maximum, released up to the released one', () => {
    for (const version of ['6.1-preview', '6.1-preview.1', '7.0-preview.1', '7.1', '7.1-preview.1', '7.2-preview', '7.2-preview.1', '6.1', '7.0']) {
      expect(isApiVersionInRange(version, pats), version).toBe(true);
    }
    for (const version of [
      '6.0-preview.1',
      '7.3-preview.1',
      '7.2',
      '7.2-preview.2',
      '7.1-preview.0',
      '8.0',
      '7',
      '7.1-preview.1.2',
      ' 7.1',
      '7.1-Preview',
      'latest',
      '',
    ]) {
      expect(isApiVersionInRange(version, pats), version).toBe(false);
    }
  });

  it('refuses released versions of a preview-only resource', () => {
    expect(isApiVersionInRange('5.2-preview.1', audit)).toBe(true);
    expect(isApiVersionInRange('7.1', audit)).toBe(false);
    expect(isApiVersionInRange('5.0-preview.1', audit)).toBe(false);
  });

  it('reads the query first, then the Accept header', () => {
    expect(requestedApiVersion('7.1', 'application/json;api-version=6.0')).toBe('7.1');
    expect(requestedApiVersion(null, 'application/json;api-version=7.1-preview.1')).toBe('7.1-preview.1');
    expect(requestedApiVersion(undefined, 'text/plain, application/json; charset=utf-8; API-Version="7.2-preview"')).toBe('7.2-preview');
    expect(requestedApiVersion(null, 'application/json')).toBeUndefined();
    expect(requestedApiVersion(null, null)).toBeUndefined();
    expect(requestedApiVersion('', 'application/json;api-version=7.1')).toBe('');
  });

  it('names the range in the coded 400', () => {
    const error = (() => {
      try {
        checkApiVersion('9.9', pats);
      } catch (caught) {
        return caught as AppError;
      }
      throw new Error('accepted');
    })();
    expect(error.code).toBe('unsupportedApiVersion');
    expect(error.message).toContain('6.1 to 7.1, and 6.1-preview to 7.2-preview.1');
    expect(() => checkApiVersion(undefined, pats)).toThrow(/required/);
  });
});

describe('resource locations generated from the declarations', () => {
  it('has every _apis route name a location and a range', () => {
    // Discovery itself (OPTIONS only) is not a resource.
    const resources = http.filter((declaration) => declaration.options.methods.some((method) => method !== 'OPTIONS'));
    const unnamed = resources.filter((declaration) => declaration.options.route.includes('_apis') && !declaration.doc?.location);
    expect(unnamed.map((declaration) => declaration.name)).toEqual([]);
    const unversioned = http.filter((declaration) => declaration.doc?.location && !declaration.doc.apiVersions);
    expect(unversioned.map((declaration) => declaration.name)).toEqual([]);
  });

  it("lists the locations Microsoft's clients ask for, with their published ids", () => {
    const locations = resourceLocations(declarations, 'organization');
    const byId = new Map(locations.map((location) => [location.id, location]));
    const expected: [string, string, string][] = [
      ['00d9565f-ed9c-4a06-9a50-00e7896ccab4', 'Location', 'ConnectionData'],
      ['e81700f7-3be2-46de-8624-2eb35882fcaa', 'Location', 'ResourceAreas'],
      ['603fe2ac-9723-48b9-88ad-09305aa6c6e1', 'core', 'projects'],
      ['6fa30b9a-9558-4e3b-a95f-a12572caa6e6', 'audit', 'actions'],
      ['4e5fa14f-7097-4b73-9c85-00abc7353c61', 'audit', 'auditLog'],
      ['b7b98a76-04e8-4f4d-ac72-9d46492caaac', 'audit', 'downloadLog'],
      ['af68438b-ed04-4407-9eb6-f1dbae3f922e', 'TokenAdmin', 'PersonalAccessTokens'],
      ['a9c08b2c-5466-4e22-8626-1ff304ffdf0f', 'TokenAdmin', 'Revocations'],
      ['ee4afb16-e7ab-4ed8-9d4b-4ef3e78f97e4', 'TokenAdmin', 'RevocationRules'],
      ['55967393-20ef-45c6-a96c-b5d5d5986a9a', 'Tokens', 'pats'],
      ['c65009a7-474a-4ad1-8b42-7d852107ef8c', 'Packaging', 'Feeds'],
    ];
    for (const [id, area, resourceName] of expected) expect(byId.get(id), resourceName).toMatchObject({ area, resourceName });
    expect(byId.get('603fe2ac-9723-48b9-88ad-09305aa6c6e1')).toMatchObject({
      routeTemplate: '_apis/projects/{*projectId}',
      minVersion: '1.0',
      maxVersion: '7.2',
      releasedVersion: '7.1',
      resourceVersion: 4,
    });
    expect(byId.get('c65009a7-474a-4ad1-8b42-7d852107ef8c')?.routeTemplate).toBe('{project}/_apis/packaging/feeds/{feedId}');
    expect(byId.get('4e5fa14f-7097-4b73-9c85-00abc7353c61')?.releasedVersion).toBe('0.0');
  });

  for (const level of ['organization', 'deployment'] as LocationLevel[]) {
    it(`routes every ${level} location's template, filled in as the clients do, to a declaration of that location`, () => {
      const table = createRouteTable(
        http.map((declaration) => ({ route: declaration.options.route, methods: declaration.options.methods, value: declaration })),
      );
      const locations = resourceLocations(declarations, level);
      expect(locations.length).toBeGreaterThan(5);
      for (const location of locations) {
        const path = location.routeTemplate.replace(/\{\*?([A-Za-z]+)\}/g, (_, name: string) => `v-${name}`);
        const segments = [...(level === 'organization' ? ['contoso'] : []), ...path.split('/')];
        const methods = new Set(
          http.filter((declaration) => declaration.doc?.location?.id.toLowerCase() === location.id).flatMap((declaration) => declaration.options.methods),
        );
        const served = [...methods].some((method) => table.find(method, segments)?.entry.doc?.location?.id.toLowerCase() === location.id);
        expect(served, `${location.area}/${location.resourceName}: ${location.routeTemplate}`).toBe(true);
      }
    });
  }
});
