import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEMO_USERS } from '../../local/demo-data.js';
import { seedDemoData } from '../../local/demo-data.js';
import { TABLES } from '../../shared/storage/names.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';

let env: TestEnvironment;
const api = client(() => env);
const asAlice = api.asUser('alice@contoso.com');
const asErin = api.asUser('erin@fabrikam.com');
const asBob = api.asUser('bob@contoso.com');
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.stop();
});

const userId = (email: string) => DEMO_USERS.find((user) => user.email === email)!.id;

async function countRows(table: string): Promise<number> {
  let count = 0;
  for await (const _ of env.app.storage.table(table).listEntities()) count += 1;
  return count;
}

describe('organizations', () => {
  it('lists the projects of contoso for its members', async () => {
    const { status, body } = await asAlice.get('/contoso/_apis/projects?api-version=7.1');
    expect(status).toBe(200);
    expect(body?.value.map((p: { name: string }) => p.name)).toEqual(['api', 'oss', 'web']);
    expect(body?.value.find((p: { name: string }) => p.name === 'oss').visibility).toBe('public');
  });

  it('gives a non-member exactly the answer a missing organization gets', async () => {
    const other = await asErin.get('/contoso/_apis/projects?api-version=7.1');
    const missing = await asErin.get('/nosuchorg/_apis/projects?api-version=7.1');
    expect(other.status).toBe(404);
    expect(missing.status).toBe(404);
    expect(other.body?.code).toBe('organizationNotFound');
    const strip = (body: Record<string, unknown> | undefined) => JSON.stringify({ ...body, message: String(body?.message).replace(/'[^']*'/, "'X'") });
    expect(strip(other.body)).toBe(strip(missing.body));
    expect((await asErin.get('/contoso/_apis/projects/web?api-version=7.1')).status).toBe(404);
    expect((await asErin.get('/not_valid!/_apis/projects?api-version=7.1')).body?.code).toBe('organizationNotFound');
  });

  it('lists only the caller’s organizations', async () => {
    const { body } = await asErin.get('/_apis/organizations?api-version=7.1');
    expect(body?.value.map((o: { name: string }) => o.name)).toEqual(['fabrikam']);
  });

  it('creates an organization whose creator becomes its administrator', async () => {
    const created = await api.asUser('dave@contoso.com').post('/_apis/organizations?api-version=7.1', { name: 'dave-labs', description: 'experiments' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'dave-labs', description: 'experiments' });
    const project = await api.asUser('dave@contoso.com').post('/dave-labs/_apis/projects?api-version=7.1', { name: 'first' });
    expect(project.status).toBe(201);
    const again = await asBob.post('/_apis/organizations?api-version=7.1', { name: 'DAVE-LABS' });
    expect(again.status).toBe(409);
    expect(again.body?.code).toBe('organizationNameTaken');
  });

  it('refuses invalid and reserved organization names without writing anything', async () => {
    const before = await countRows(TABLES.organizations);
    for (const name of ['admin', 'Runtime', 'api', '-lead', 'trail-', 'has space', 'x'.repeat(51), '', 'under_score', 'dot.ted']) {
      const { status, body } = await asBob.post('/_apis/organizations?api-version=7.1', { name });
      expect(status, name).toBe(400);
      expect(body?.code, name).toBe('invalidRequestBody');
    }
    expect(await countRows(TABLES.organizations)).toBe(before);
  });

  it('re-seeding the demo data changes nothing', async () => {
    const before = await Promise.all(Object.values(TABLES).map(countRows));
    await seedDemoData(env.app);
    expect(await Promise.all(Object.values(TABLES).map(countRows))).toEqual(before);
  });
});

describe('projects', () => {
  it('lets administrators create projects and refuses members', async () => {
    const created = await asAlice.post('/contoso/_apis/projects?api-version=7.1', { name: 'mobile', visibility: 'private' });
    expect(created.status).toBe(201);
    expect(created.body).toMatchObject({ name: 'mobile', visibility: 'private', state: 'wellFormed' });
    const byName = await asBob.get('/contoso/_apis/projects/Mobile?api-version=7.1');
    expect(byName.body?.id).toBe(created.body?.id);
    const denied = await asBob.post('/contoso/_apis/projects?api-version=7.1', { name: 'sneaky' });
    expect(denied.status).toBe(403);
    expect(denied.body?.code).toBe('accessDenied');
    const duplicate = await asAlice.post('/contoso/_apis/projects?api-version=7.1', { name: 'MOBILE' });
    expect(duplicate.status).toBe(409);
    expect(duplicate.body?.code).toBe('projectAlreadyExists');
  });

  it('refuses invalid project names', async () => {
    const before = await countRows(TABLES.projects);
    for (const name of ['_hidden', 'dot.', 'a/b', 'a#b', 'COM1', 'x'.repeat(65), ' padded', 'semi;colon']) {
      const { status } = await asAlice.post('/contoso/_apis/projects?api-version=7.1', { name });
      expect(status, name).toBe(400);
    }
    expect(await countRows(TABLES.projects)).toBe(before);
  });

  it('updates description and visibility, and answers 404 for unknown projects', async () => {
    const updated = await asAlice.patch('/contoso/_apis/projects/api?api-version=7.1', { description: 'The API' });
    expect(updated.body).toMatchObject({ name: 'api', description: 'The API', visibility: 'private' });
    const missing = await asAlice.get('/contoso/_apis/projects/00000000-0000-4000-8000-000000000000?api-version=7.1');
    expect(missing.status).toBe(404);
    expect(missing.body?.code).toBe('projectNotFound');
    const empty = await asAlice.patch('/contoso/_apis/projects/api?api-version=7.1', {});
    expect(empty.status).toBe(400);
  });
});

describe('members', () => {
  it('lists members with their groups and project entitlements', async () => {
    const { status, body } = await asBob.get('/contoso/_apis/userentitlements?api-version=7.1-preview.3');
    expect(status).toBe(200);
    const carol = body?.members.find((m: { user: { principalName: string } }) => m.user.principalName === 'carol@contoso.com');
    expect(carol.groups).toEqual(['projectScopedUsers']);
    expect(carol.projectEntitlements).toEqual([{ projectRef: { id: expect.any(String), name: 'web' }, group: { groupType: 'projectContributor' } }]);
    expect(carol.user.descriptor).toMatch(/^aad\./);
  });

  it('adds a known identity of its tenant, updates it and removes it', async () => {
    const projects = await asAlice.get('/contoso/_apis/projects?api-version=7.1');
    const web = projects.body?.value.find((project: { name: string }) => project.name === 'web').id as string;
    const added = await asAlice.post('/contoso/_apis/userentitlements?api-version=7.1-preview.3', {
      user: { principalName: 'tina@contoso.com' },
      projectEntitlements: [{ projectRef: { id: web } }],
    });
    expect(added.status).toBe(201);
    expect(added.body?.projectEntitlements[0].group.groupType).toBe('projectContributor');
    expect((await api.asUser('tina@contoso.com').get('/contoso/_apis/projects?api-version=7.1')).status).toBe(200);

    const updated = await asAlice.patch(`/contoso/_apis/userentitlements/${userId('tina@contoso.com')}?api-version=7.1-preview.3`, {
      groups: ['projectCollectionAdministrators'],
    });
    expect(updated.body?.groups).toEqual(['projectCollectionAdministrators']);

    const removed = await asAlice.delete(`/contoso/_apis/userentitlements/${userId('tina@contoso.com')}?api-version=7.1-preview.3`);
    expect(removed.status).toBe(204);
    expect((await api.asUser('tina@contoso.com').get('/contoso/_apis/projects?api-version=7.1')).status).toBe(404);
  });

  it('refuses unknown identities, duplicates, unknown projects and removing the last administrator', async () => {
    const unknown = await asAlice.post('/contoso/_apis/userentitlements?api-version=7.1-preview.3', { user: { principalName: 'ghost@contoso.com' } });
    expect(unknown.body?.code).toBe('identityNotFound');
    const duplicate = await asAlice.post('/contoso/_apis/userentitlements?api-version=7.1-preview.3', { user: { principalName: 'bob@contoso.com' } });
    expect(duplicate.body?.code).toBe('memberAlreadyExists');
    const badProject = await asAlice.post('/contoso/_apis/userentitlements?api-version=7.1-preview.3', {
      user: { principalName: 'erin@fabrikam.com' },
      projectEntitlements: [{ projectRef: { id: '00000000-0000-4000-8000-000000000000' } }],
    });
    expect(badProject.status).toBe(400);
    expect(badProject.body?.code).toBe('projectNotFound');
    expect((await asErin.get('/contoso/_apis/projects?api-version=7.1')).status).toBe(404);
    const lastAdmin = await asAlice.delete(`/contoso/_apis/userentitlements/${userId('alice@contoso.com')}?api-version=7.1-preview.3`);
    expect(lastAdmin.status).toBe(409);
    expect(lastAdmin.body?.code).toBe('lastAdministrator');
    const notMember = await asAlice.delete('/contoso/_apis/userentitlements/not-a-guid?api-version=7.1-preview.3');
    expect(notMember.body?.code).toBe('memberNotFound');
    const byMember = await asBob.delete(`/contoso/_apis/userentitlements/${userId('dave@contoso.com')}?api-version=7.1-preview.3`);
    expect(byMember.status).toBe(403);
  });
});
