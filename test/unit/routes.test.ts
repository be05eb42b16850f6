import { describe, expect, it } from 'vitest';
import { createRouteTable, matchRoute, parseRouteTemplate, splitPath } from '../../shared/runtime/routes.js';

describe('route templates', () => {
  it('matches literals case-insensitively and captures parameters', () => {
    const route = parseRouteTemplate('{organization}/_apis/tokens/pats');
    expect(matchRoute(route, ['contoso', '_APIs', 'Tokens', 'Pats'])).toEqual({ organization: 'contoso' });
    expect(matchRoute(route, ['contoso', '_apis', 'tokens'])).toBeUndefined();
    expect(matchRoute(route, ['contoso', '_apis', 'tokens', 'pats', 'x'])).toBeUndefined();
  });

  it('supports optional parameters, constraints and catch-alls', () => {
    expect(matchRoute(parseRouteTemplate('items/{id?}'), ['items'])).toEqual({});
    expect(matchRoute(parseRouteTemplate('items/{id:int}'), ['items', 'x'])).toBeUndefined();
    expect(matchRoute(parseRouteTemplate('items/{id:guid}'), ['items', '0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11'])).toBeDefined();
    expect(matchRoute(parseRouteTemplate('{*path}'), ['a', 'b', 'c'])).toEqual({ path: 'a/b/c' });
    expect(() => parseRouteTemplate('{*path}/x')).toThrow(/catch-all/);
    expect(() => parseRouteTemplate('a/{id:regex}')).toThrow(/constraint/);
  });

  it('prefers literal segments over parameters and parameters over catch-alls', () => {
    const table = createRouteTable([
      { route: '{*path}', methods: ['GET', 'POST'], value: 'fallback' },
      { route: '{organization}/_apis/projects', methods: ['GET'], value: 'projects' },
      { route: '_apis/organizations', methods: ['GET'], value: 'organizations' },
      { route: '{organization}/_apis/{area}', methods: ['GET'], value: 'area' },
    ]);
    expect(table.find('GET', ['_apis', 'organizations'])?.entry).toBe('organizations');
    expect(table.find('GET', ['contoso', '_apis', 'projects'])?.entry).toBe('projects');
    expect(table.find('GET', ['contoso', '_apis', 'other'])?.entry).toBe('area');
    expect(table.find('POST', ['contoso', '_apis', 'projects'])?.entry).toBe('fallback');
    expect(table.allowedMethods(['contoso', '_apis', 'projects'])).toEqual(['GET']);
  });

  it('decodes path segments and rejects malformed encoding', () => {
    expect(splitPath('/a%20b/%40scope%2Fname')).toEqual(['a b', '@scope/name']);
    expect(splitPath('/bad%zz')).toBeUndefined();
  });
});
