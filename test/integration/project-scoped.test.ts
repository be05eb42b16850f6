import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import { DEMO_USERS } from '../../local/demo-data.js';
import { DEFAULT_USER_SCOPES } from '../../local/tokens.js';
import { hasAnyScope } from '../../shared/tokens/scopes.js';
import type { HttpDeclaration } from '../../shared/runtime/declarations.js';
import { QUEUES } from '../../shared/storage/names.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { latestApiVersion } from '../../shared/http/api-versions.js';

let env: TestEnvironment;
const api = client(() => env);
const asCarol = api.asUser('carol@contoso.com');
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.stop();
});

const id = (email: string) => DEMO_USERS.find((user) => user.email === email)!.id;

async function setLimited(on: boolean) {
  const response = await api.asUser('alice@contoso.com').patch('/contoso/_apis/organization/settings?api-version=7.1', { limitUserVisibilityToProjects: on });
  expect(response.status).toBe(200);
  expect(response.body).toEqual({ limitUserVisibilityToProjects: on, allowExternalGuests: false });
}

/** Every organization-level route, generated from the declarations so a new route cannot escape the matrix. */
const organizationRoutes = declarations
  // Anonymous routes (location discovery) describe the service only and have no organization gate.
  .filter((d): d is HttpDeclaration => d.kind === 'http' && d.options.route.startsWith('{organization}/') && !!d.doc && !d.doc.access.anonymous)
  .flatMap((d) => d.options.methods.map((method) => ({ declaration: d, method })));

function pathFor(declaration: HttpDeclaration, project: string): string {
  const route = declaration.options.route
    .replace('{organization}', 'contoso')
    .replace(/\{project\}/g, project)
    .replace(/\{\*?[^}]+\}/g, '0c1a3f7e-2b9d-4c61-9a52-6f0b3c5d7e11');
  const version = declaration.doc?.apiVersions && latestApiVersion(declaration.doc.apiVersions);
  return `/${route}${version ? `?api-version=${version}` : ''}`;
}

type RestrictedAccess = Exclude<NonNullable<HttpDeclaration['doc']>['access'], { anonymous: true }>;
const accessOf = (declaration: HttpDeclaration): RestrictedAccess | undefined =>
  declaration.doc?.access.anonymous ? undefined : (declaration.doc?.access as RestrictedAccess | undefined);
const scopedAllowed = (declaration: HttpDeclaration) => accessOf(declaration)?.projectScopedUsers === 'allowed';

describe('project-scoped users, feature on', () => {
  beforeAll(async () => setLimited(true));
  afterAll(async () => setLimited(false));

  it(`hides organization settings from carol and nobody else (${organizationRoutes.length} route × method pairs)`, async () => {
    const matrix: string[] = [];
    for (const { declaration, method } of organizationRoutes) {
      const path = pathFor(declaration, 'web');
      const carol = await asCarol.request(method, path, { body: method === 'GET' || method === 'DELETE' ? undefined : {} });
      if (!scopedAllowed(declaration)) {
        expect(carol.status, `${method} ${path}`).toBe(403);
        const access = accessOf(declaration);
        // The restriction is checked before the administrator check: carol learns only that she is restricted.
        const expected = !access?.users ? 'callerTypeNotAllowed' : 'projectScopedUserRestricted';
        expect(carol.body?.code, `${method} ${path}`).toBe(expected);
      } else {
        expect(carol.body?.code, `${method} ${path}`).not.toBe('projectScopedUserRestricted');
      }
      for (const email of ['bob@contoso.com', 'alice@contoso.com']) {
        const other = await api.asUser(email).request(method, path, { body: method === 'GET' || method === 'DELETE' ? undefined : {} });
        expect(other.body?.code, `${email} ${method} ${path}`).not.toBe('projectScopedUserRestricted');
      }
      const erin = await api.asUser('erin@fabrikam.com').request(method, path, { body: method === 'GET' || method === 'DELETE' ? undefined : {} });
      expect(erin.status, `erin ${method} ${path}`).toBeGreaterThanOrEqual(400);
      expect(['organizationNotFound', 'unauthorized', 'callerTypeNotAllowed', 'missingAppRole', 'insufficientScope'], `erin ${method} ${path}`).toContain(
        erin.body?.code,
      );
      matrix.push(`${method} ${declaration.options.route}: carol ${carol.status}, erin ${erin.status}`);
    }
    console.log(`project-scoped matrix (${matrix.length} cells per user):\n  ${matrix.join('\n  ')}`);
  });

  it('answers any project carol is not in, and everything in it, exactly like a missing project', async () => {
    for (const { declaration, method } of organizationRoutes.filter((r) => r.declaration.options.route.includes('{project}') && scopedAllowed(r.declaration))) {
      const hidden = await asCarol.request(method, pathFor(declaration, 'api'), { body: method === 'GET' ? undefined : {} });
      const missing = await asCarol.request(method, pathFor(declaration, 'nosuchproject'), { body: method === 'GET' ? undefined : {} });
      // A route needing a scope the token lacks refuses both alike before looking at the project.
      const scopes = accessOf(declaration)?.users?.scopes ?? [];
      if (scopes.length === 0 || hasAnyScope(DEFAULT_USER_SCOPES, scopes)) expect(hidden.status, `${method} ${declaration.options.route}`).toBe(404);
      expect(hidden.status, `${method} ${declaration.options.route}`).toBe(missing.status);
      expect(hidden.body?.code).toBe(missing.body?.code);
    }
  });

  it('lists only carol’s projects, while bob and alice see all', async () => {
    const names = async (email: string) =>
      ((await api.asUser(email).get('/contoso/_apis/projects?api-version=7.1')).body?.value as { name: string }[]).map((p) => p.name);
    expect(await names('carol@contoso.com')).toEqual(['web']);
    expect(await names('bob@contoso.com')).toEqual(['api', 'oss', 'web']);
    expect(await names('alice@contoso.com')).toEqual(['api', 'oss', 'web']);
    expect((await asCarol.get('/contoso/_apis/organization?api-version=7.1')).body?.name).toBe('contoso');
  });

  it('finds only people who share a project with carol, by search, email or id', async () => {
    const search = async (email: string, query: string) =>
      (await api.asUser(email).get(`/contoso/_apis/identities?api-version=7.1&${query}`)).body as { count: number; value: { id: string }[] };
    const carolFinds = (await search('carol@contoso.com', 'searchFilter=General&filterValue=contoso.com')).value.map((i) => i.id).sort();
    expect(carolFinds).toEqual([id('bob@contoso.com'), id('carol@contoso.com')].sort());
    expect((await search('carol@contoso.com', 'searchFilter=MailAddress&filterValue=dave@contoso.com')).count).toBe(0);
    expect((await search('carol@contoso.com', `identityIds=${id('dave@contoso.com')},${id('bob@contoso.com')}`)).value.map((i) => i.id)).toEqual([
      id('bob@contoso.com'),
    ]);
    expect((await search('carol@contoso.com', `identityIds=${id('erin@fabrikam.com')}`)).count).toBe(0);
    expect((await search('carol@contoso.com', 'filterValue=*')).count).toBe(0);
    expect((await search('carol@contoso.com', 'filterValue=web&projectId=web')).count).toBe(0);
    const inWeb = await search('carol@contoso.com', 'filterValue=contoso&projectId=web');
    expect(inWeb.value.map((i) => i.id).sort()).toEqual([id('bob@contoso.com'), id('carol@contoso.com')].sort());
    const apiForCarol = await asCarol.get('/contoso/_apis/identities?api-version=7.1&filterValue=a&projectId=api');
    expect(apiForCarol.status).toBe(404);
    expect(apiForCarol.body?.code).toBe('projectNotFound');
    expect((await search('bob@contoso.com', 'searchFilter=MailAddress&filterValue=dave@contoso.com')).count).toBe(1);
  });

  it('refuses empty, over-long and malformed searches with a code', async () => {
    for (const query of ['filterValue=', `filterValue=${'x'.repeat(300)}`, 'identityIds=not-a-guid', 'searchFilter=Everything&filterValue=a', '']) {
      const response = await asCarol.get(`/contoso/_apis/identities?api-version=7.1&${query}`);
      expect(response.status, query).toBe(400);
      expect(response.body?.code, query).toBe('invalidQueryParameter');
    }
  });
});

describe('project-scoped users, feature off', () => {
  it('restores full visibility at once and leaves the change in the audit trail', async () => {
    await setLimited(true);
    await setLimited(false);
    const projects = (await asCarol.get('/contoso/_apis/projects?api-version=7.1')).body?.value as unknown[];
    expect(projects).toHaveLength(3);
    expect((await asCarol.get('/contoso/_apis/userentitlements?api-version=7.1-preview.3')).status).toBe(200);
    const found = (await asCarol.get('/contoso/_apis/identities?api-version=7.1&searchFilter=MailAddress&filterValue=dave@contoso.com')).body;
    expect(found?.count).toBe(1);
    const peeked = await env.app.storage.queue(QUEUES.audit).peekMessages({ numberOfMessages: 32 });
    const events = peeked.peekedMessageItems.map(
      (m) => JSON.parse(Buffer.from(m.messageText, 'base64').toString()) as { actionId: string; data: Record<string, unknown> },
    );
    const settings = events.filter((e) => e.actionId === 'Organization.SettingsUpdateEvent');
    expect(settings.length).toBeGreaterThanOrEqual(2);
    expect(settings.at(-1)?.data).toMatchObject({ setting: 'limitUserVisibilityToProjects', newValue: false });
  });

  it('lets only administrators change the setting', async () => {
    const denied = await api.asUser('bob@contoso.com').patch('/contoso/_apis/organization/settings?api-version=7.1', { limitUserVisibilityToProjects: true });
    expect(denied.status).toBe(403);
    const invalid = await api
      .asUser('alice@contoso.com')
      .patch('/contoso/_apis/organization/settings?api-version=7.1', { limitUserVisibilityToProjects: 'yes' });
    expect(invalid.status).toBe(400);
  });
});

describe('billing and usage', () => {
  it('shows members, projects and pipeline grants to members, and hides them from scoped users while limited', async () => {
    const usage = await api.asUser('bob@contoso.com').get('/contoso/_apis/organization/usage?api-version=7.1');
    expect(usage.status).toBe(200);
    expect(usage.body).toMatchObject({ members: 4, servicePrincipals: 2, projects: { total: 3, public: 1 }, pipelines: { publicParallelJobs: 0 } });
    await setLimited(true);
    try {
      const hidden = await asCarol.get('/contoso/_apis/organization/usage?api-version=7.1');
      expect(hidden.status).toBe(403);
    } finally {
      await setLimited(false);
    }
  });
});
