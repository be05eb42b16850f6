import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import type { Access } from '../../shared/http/endpoint.js';
import type { HttpDeclaration } from '../../shared/runtime/declarations.js';
import { DEMO_TENANT_ID } from '../../local/demo-data.js';
import { generateSigningKey, signAccessToken } from '../../local/dev-secrets.js';
import { TEST_AUDIENCE, TEST_ISSUER, startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { latestApiVersion, type ApiVersionRange } from '../../shared/http/api-versions.js';

/**
 * Every route × every kind of caller, generated from the route declarations (so a new route is in
 * the matrix the moment it is declared). The expected outcome of each cell follows from the
 * route's declared `access`; the test fails on any allow the declaration does not grant.
 */
type Restricted = Exclude<Access, { anonymous: true }>;
type CallerKind =
  | 'none'
  | 'forgedJwt'
  | 'expiredJwt'
  | 'patOfMember'
  | 'otherOrganization'
  | 'projectScopedUser'
  | 'member'
  | 'memberWithoutScope'
  | 'administrator'
  | 'appWithRole'
  | 'appWithoutRole';

const CALLERS: CallerKind[] = [
  'none',
  'forgedJwt',
  'expiredJwt',
  'patOfMember',
  'otherOrganization',
  'projectScopedUser',
  'member',
  'memberWithoutScope',
  'administrator',
  'appWithRole',
  'appWithoutRole',
];
const DENIALS = new Set([
  'unauthorized',
  'accessDenied',
  'insufficientScope',
  'missingAppRole',
  'missingRole',
  'callerTypeNotAllowed',
  'organizationNotFound',
  'projectScopedUserRestricted',
]);

const routes = declarations
  .filter((d): d is HttpDeclaration => d.kind === 'http' && !!d.doc && !d.options.route.includes('{*'))
  .flatMap((declaration) => declaration.options.methods.map((method) => ({ declaration, method, access: declaration.doc!.access })));

function expectedAllow(access: Access, caller: CallerKind, organizationScoped: boolean): boolean {
  if (access.anonymous) return true;
  switch (caller) {
    case 'none':
    case 'forgedJwt':
    case 'expiredJwt':
      return false;
    case 'patOfMember':
      // A PAT only where the declaration accepts PATs: never on the PAT lifecycle routes.
      return !!access.pats && access.organization !== 'administrator';
    case 'otherOrganization':
      return !organizationScoped && !!access.users && !access.users.roles?.length;
    case 'projectScopedUser':
      return (
        !!access.users &&
        !access.users.roles?.length &&
        access.organization !== 'administrator' &&
        (!access.organization || access.projectScopedUsers === 'allowed')
      );
    case 'member':
      return !!access.users && !access.users.roles?.length && access.organization !== 'administrator';
    case 'memberWithoutScope':
      // Every route a user token can call names a delegated scope: a token with none of them gets nowhere.
      return false;
    case 'administrator':
      return !!access.users && !access.users.roles?.length;
    case 'appWithRole':
      return !!access.apps && access.organization !== 'administrator';
    case 'appWithoutRole':
      return !!access.apps && access.apps.roles.length === 0 && access.organization !== 'administrator';
  }
}

let env: TestEnvironment;
const api = client(() => env);
const tokens = new Map<CallerKind, (access: Access) => Promise<string | undefined>>();

beforeAll(async () => {
  env = await startTestEnvironment();
  const forgedKey = await generateSigningKey();
  const forged = await signAccessToken(forgedKey, {
    issuer: TEST_ISSUER,
    audience: TEST_AUDIENCE,
    tenantId: DEMO_TENANT_ID,
    now: env.clock.now(),
    claims: { oid: 'a11ce000-0000-4000-8000-00000000000a', scp: 'vso.pats vso.pats_manage', preferred_username: 'alice@contoso.com' },
  });
  const expired = await env.userToken('alice@contoso.com', { now: new Date(env.clock.now().getTime() - 3 * 3600_000) });
  const fixed = (token: string | undefined) => async () => token;
  tokens.set('none', fixed(undefined));
  tokens.set('forgedJwt', fixed(forged));
  tokens.set('expiredJwt', fixed(expired));
  // A fresh PAT per cell: a cell may rotate or revoke the token it calls with.
  const bobJwt = await env.userToken('bob@contoso.com');
  tokens.set('patOfMember', async () => {
    const created = await api.as(bobJwt).post<'pats-create'>('/contoso/_apis/tokens/pats?api-version=7.1-preview.1', {
      displayName: 'matrix',
      scope: 'app_token',
      validTo: new Date(env.clock.now().getTime() + 7 * 86_400_000).toISOString(),
      allOrgs: false,
    });
    return created.body.patToken!.token!;
  });
  tokens.set('otherOrganization', fixed(await env.userToken('erin@fabrikam.com')));
  tokens.set('projectScopedUser', fixed(await env.userToken('carol@contoso.com')));
  tokens.set('member', fixed(await env.userToken('bob@contoso.com')));
  tokens.set('memberWithoutScope', fixed(await env.userToken('bob@contoso.com', { scopes: ['vso.code'] })));
  tokens.set('administrator', fixed(await env.userToken('alice@contoso.com')));
  tokens.set('appWithRole', async (access) => env.appToken('pipelines', { roles: access.anonymous ? [] : [...(access.apps?.roles ?? [])] }));
  tokens.set('appWithoutRole', fixed(await env.appToken('pipelines', { roles: [] })));
  const limit = await api.asUser('alice@contoso.com').patch('/contoso/_apis/organization/settings?api-version=7.1', { limitUserVisibilityToProjects: true });
  expect(limit.status).toBe(200);
});
afterAll(async () => {
  await env?.stop();
});

function pathFor(route: string, apiVersions: ApiVersionRange | undefined): string {
  const path = route
    .replace('{organization}', 'contoso')
    .replace(/\{project\}/g, 'web')
    .replace(/\{[^}]+\}/g, '0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11');
  return `/${path}${apiVersions ? `?api-version=${latestApiVersion(apiVersions)}` : ''}`;
}

describe('authorization matrix', () => {
  // One column (caller) per test: each stays well within the test timeout on a loaded machine.
  it.each(CALLERS)(`%s: every route denies what its declaration does not allow (${routes.length} routes)`, async (caller) => {
    const unexpected: string[] = [];
    for (const { declaration, method, access } of routes) {
      const organizationScoped = declaration.options.route.startsWith('{organization}/');
      const token = await tokens.get(caller)!(access);
      const response = await api
        .as(token)
        .request(
          method,
          pathFor(declaration.options.route, declaration.doc?.apiVersions),
          method === 'GET' || method === 'DELETE' || method === 'HEAD' ? {} : { body: '{}' },
        );
      const code: string | undefined = response.body?.code;
      expect(response.status, `${caller} ${method} ${declaration.options.route}`).toBeLessThan(500);
      const denied = code !== undefined && DENIALS.has(code);
      const allow = expectedAllow(access, caller, organizationScoped);
      if (!allow && !denied) unexpected.push(`ALLOWED ${caller} ${method} /${declaration.options.route} → ${response.status} ${code ?? ''}`);
      if (allow && response.status === 401) unexpected.push(`REFUSED ${caller} ${method} /${declaration.options.route} → 401`);
    }
    expect(unexpected).toEqual([]);
  });
});

afterAll(() => {
  const scopeColumn = routes.map(({ method, declaration, access }) => {
    const restricted = access as Restricted;
    const users = access.anonymous ? 'anonymous' : restricted.users ? restricted.users.scopes.join(' | ') : '—';
    const pats = !access.anonymous && restricted.pats ? ` · PAT: ${restricted.pats.scopes.join(' | ') || 'any'}` : '';
    return `${method.padEnd(6)} /${declaration.options.route} · user scopes: ${users}${pats}`;
  });
  console.log(`authorization matrix: ${routes.length} route/method pairs × ${CALLERS.length} callers\n  ${scopeColumn.join('\n  ')}`);
});
