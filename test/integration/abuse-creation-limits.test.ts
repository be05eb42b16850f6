import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client, type Reply } from '../helpers/client.js';

/**
 * An ordinary user makes throw-away organizations, feeds and free grant requests as fast as the API
 * answers: creation is budgeted per identity (and organizations per tenant as well), and the grant
 * review takes requesters in turn, so the flood does not keep a real organization's request waiting.
 */
const V = 'api-version=7.1';
const DESCRIPTION = 'An open-source library for parsing configuration files, built and tested on every pull request by volunteers.';

async function newOrganization(env: TestEnvironment, email: string): Promise<Reply> {
  return client(env)
    .asUser(email)
    .post(`/_apis/organizations?${V}`, { name: `org-${randomUUID().slice(0, 8)}` });
}

async function requestGrant(env: TestEnvironment, email: string, organization: string): Promise<Reply> {
  const token = await env.userToken(email);
  const project = await client(env).as(token).post(`/${organization}/_apis/projects?${V}`, { name: 'lib', visibility: 'public' });
  expect(project.status, project.text).toBe(201);
  return client(env)
    .as(token)
    .post(`/${organization}/_apis/pipelines/freegrantrequests?${V}`, {
      requesterName: 'Someone',
      requesterEmail: `${randomUUID().slice(0, 8)}@example.com`,
      projects: ['lib'],
      repositories: [`https://github.com/${randomUUID().slice(0, 8)}/parser`],
      description: DESCRIPTION,
    });
}

function expectCreationLimited(reply: Reply): void {
  expect(reply.status, reply.text).toBe(429);
  expect(reply.body.code).toBe('creationRateLimited');
  expect(Number(reply.headers.get('retry-after'))).toBeGreaterThanOrEqual(1);
}

describe('creation budgets per identity and tenant', () => {
  let env: TestEnvironment;
  const api = client(() => env);
  beforeAll(async () => {
    env = await startTestEnvironment({
      settings: {
        RATE_LIMIT_ORGANIZATIONS_PER_HOUR: '3',
        RATE_LIMIT_ORGANIZATIONS_PER_TENANT_PER_HOUR: '5',
        RATE_LIMIT_FEEDS_PER_HOUR: '3',
        RATE_LIMIT_GRANT_REQUESTS_PER_DAY: '2',
      },
    });
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('limits organizations per user and per tenant, not other tenants, and refills with time', async () => {
    for (let index = 0; index < 3; index += 1) expect((await newOrganization(env, 'alice@contoso.com')).status).toBe(201);
    expectCreationLimited(await newOrganization(env, 'alice@contoso.com'));
    // Bob is another user of the same tenant: the tenant has two creations left.
    expect((await newOrganization(env, 'bob@contoso.com')).status).toBe(201);
    expect((await newOrganization(env, 'bob@contoso.com')).status).toBe(201);
    expectCreationLimited(await newOrganization(env, 'bob@contoso.com'));
    expect((await newOrganization(env, 'erin@fabrikam.com')).status).toBe(201);
    env.clock.advance(3_600_000);
    expect((await newOrganization(env, 'alice@contoso.com')).status).toBe(201);
  });

  it('limits feeds per identity', async () => {
    const token = await env.userToken('alice@contoso.com', { scopes: ['vso.packaging_manage'] });
    const create = (name: string) => api.as(token).post(`/contoso/_apis/packaging/feeds?${V}`, { name });
    for (const name of ['f1', 'f2', 'f3']) expect((await create(name)).status).toBe(201);
    expectCreationLimited(await create('f4'));
  });

  it('limits free grant requests per identity', async () => {
    const organizations: string[] = [];
    for (let index = 0; index < 3; index += 1) {
      const created = await newOrganization(env, 'erin@fabrikam.com');
      expect(created.status, created.text).toBe(201);
      organizations.push(created.body.name);
    }
    expect((await requestGrant(env, 'erin@fabrikam.com', organizations[0]!)).status).toBe(201);
    expect((await requestGrant(env, 'erin@fabrikam.com', organizations[1]!)).status).toBe(201);
    const fabrikam = await requestGrant(env, 'erin@fabrikam.com', organizations[2]!);
    expectCreationLimited(fabrikam);
  });
});

describe('the grant review is fair and bounded', () => {
  let env: TestEnvironment;
  const api = client(() => env);
  beforeAll(async () => {
    env = await startTestEnvironment({ settings: { GRANT_REVIEW_BATCH_SIZE: '4' } });
  });
  afterAll(async () => {
    await env?.stop();
  });

  it("decides a real organization's request in the first run after one user's flood of junk requests", async () => {
    const junk: string[] = [];
    for (let index = 0; index < 8; index += 1) {
      const organization = await newOrganization(env, 'tina@contoso.com');
      expect(organization.status, organization.text).toBe(201);
      const requested = await requestGrant(env, 'tina@contoso.com', organization.body.name);
      expect(requested.status, requested.text).toBe(201);
      junk.push(requested.body.id);
    }
    const real = await newOrganization(env, 'erin@fabrikam.com');
    const request = await requestGrant(env, 'erin@fabrikam.com', real.body.name);
    expect(request.status, request.text).toBe(201);

    await env.runtime.invoke('grant-review');
    const token = await env.userToken('erin@fabrikam.com');
    const after = await api.as(token).get(`/${real.body.name}/_apis/pipelines/freegrantrequests/${request.body.id}?${V}`);
    expect(after.status).toBe(200);
    expect(after.body.status).not.toBe('pending');
    // Bounded: one run reviews at most the batch size.
    const operator = await env.userToken('olivia@ops.gatehouse.example', {
      userId: '0ae7a70e-0000-4000-8000-0000000000a1',
      displayName: 'Olivia Operator',
      roles: ['Gatehouse.Operator'],
    });
    const pending = await api.as(operator).get(`/_apis/pipelines/freegrantrequests?status=pending&${V}`);
    expect(pending.status, pending.text).toBe(200);
    expect(pending.body.value.filter((item: { id: string }) => junk.includes(item.id))).toHaveLength(5);
  });
});

describe('a tenant policy limits how often its users create organizations', () => {
  let env: TestEnvironment;
  const api = client(() => env);
  beforeAll(async () => {
    env = await startTestEnvironment();
  });
  afterAll(async () => {
    await env?.stop();
  });

  it('applies restrictOrganizationCreation.maxPerUserPerHour to every user of the tenant, exempt users included', async () => {
    const tina = await env.userToken('tina@contoso.com');
    const set = await api.as(tina).put(`/_apis/tenant/policies?${V}`, { restrictOrganizationCreation: { enabled: false, maxPerUserPerHour: 2 } });
    expect(set.status, set.text).toBe(200);
    expect(set.body.restrictOrganizationCreation).toMatchObject({ enabled: false, maxPerUserPerHour: 2 });
    for (let index = 0; index < 2; index += 1) expect((await newOrganization(env, 'bob@contoso.com')).status).toBe(201);
    expectCreationLimited(await newOrganization(env, 'bob@contoso.com'));
    // Another tenant's users are not under this tenant's policy.
    for (let index = 0; index < 3; index += 1) expect((await newOrganization(env, 'erin@fabrikam.com')).status).toBe(201);
  });
});
