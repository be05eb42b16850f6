import { randomUUID } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { WebApi, getBearerHandler, getPersonalAccessTokenHandler } from 'azure-devops-node-api';
import type { IRequestHandler } from 'azure-devops-node-api/interfaces/common/VsoBaseInterfaces.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { createPat } from '../helpers/http.js';
import { ALICE, BOB } from '../helpers/demo.js';
import { subjectDescriptor } from '../../shared/auth/caller.js';

/**
 * Microsoft's Node client (azure-devops-node-api 17) against Gatehouse through the local runtime:
 * it discovers every resource with OPTIONS and sends the api-version only in the Accept header.
 */
let env: TestEnvironment;
const api = client(() => env);
let orgUrl: string;
let alicePat: string;
let aliceBearer: string;

const LOCATIONS = {
  tokenAdminList: 'af68438b-ed04-4407-9eb6-f1dbae3f922e',
  revocations: 'a9c08b2c-5466-4e22-8626-1ff304ffdf0f',
  auditLog: '4e5fa14f-7097-4b73-9c85-00abc7353c61',
  downloadLog: 'b7b98a76-04e8-4f4d-ac72-9d46492caaac',
  auditActions: '6fa30b9a-9558-4e3b-a95f-a12572caa6e6',
  pats: '55967393-20ef-45c6-a96c-b5d5d5986a9a',
};

beforeAll(async () => {
  env = await startTestEnvironment();
  orgUrl = `${env.url}/contoso`;
  aliceBearer = await env.userToken('alice@contoso.com');
  // Three more projects so paging has pages to turn.
  for (const name of ['mobile', 'infra', 'docs']) {
    const reply = await api.as(aliceBearer).post('/contoso/_apis/projects?api-version=7.1', { name });
    expect(reply.status, reply.text).toBe(201);
  }
  alicePat = (await createPat(env, { token: aliceBearer }, { scope: 'vso.project vso.auditlog vso.tokenadministration' })).token;
  env.issuedSecrets.add(alicePat);
});

afterAll(async () => {
  await env?.stop();
});

const credentials: [string, () => IRequestHandler][] = [
  ['a PAT', () => getPersonalAccessTokenHandler(alicePat)],
  ['a bearer token', () => getBearerHandler(aliceBearer)],
];

describe.each(credentials)('azure-devops-node-api with %s', (_, handler) => {
  const connect = () => new WebApi(orgUrl, handler());

  it('connects and reads connection data through the Location area', async () => {
    const connection = connect();
    const data = await connection.connect();
    expect(data.authenticatedUser?.id).toBe(ALICE.id);
    const locations = await connection.getLocationsApi();
    const viaLocation = await locations.getConnectionData();
    expect(viaLocation.authenticatedUser?.id).toBe(ALICE.id);
    expect(await locations.getResourceAreas()).toEqual([]);
  });

  it('lists and pages projects through the core area', async () => {
    const core = await connect().getCoreApi();
    const all = await core.getProjects();
    expect(all.map((project) => project.name)).toEqual(['api', 'docs', 'infra', 'mobile', 'oss', 'web']);
    expect((await core.getProjects(undefined, 2)).map((project) => project.name)).toEqual(['api', 'docs']);
    expect((await core.getProjects(undefined, 2, 2)).map((project) => project.name)).toEqual(['infra', 'mobile']);
    expect((await core.getProjects(undefined, 2, undefined, 4)).map((project) => project.name)).toEqual(['oss', 'web']);
    const web = await core.getProject('web');
    expect(web.name).toBe('web');
    expect(web.id).toBe(all.find((project) => project.name === 'web')?.id);
  });

  it('reaches the audit resources through VsoClient location resolution', async () => {
    const connection = connect();
    const actions = await get(connection, 'audit', LOCATIONS.auditActions, '7.1-preview.1', {}, { areaName: 'Token' });
    expect(actions.value.length).toBeGreaterThan(0);
    const log = await get(connection, 'audit', LOCATIONS.auditLog, '7.1-preview.1', {}, { batchSize: 5 });
    expect(Array.isArray(log.decoratedAuditLogEntries)).toBe(true);
    const { url, apiVersion } = await locate(connection, 'audit', LOCATIONS.downloadLog, '7.1-preview.1', {}, { format: 'csv' });
    const download = await connection.rest.client.get(url, { Accept: `application/octet-stream;api-version=${apiVersion}` });
    expect(download.message.statusCode).toBe(200);
    expect(await download.readBody()).toMatch(/^Id,/);
  });

  it('lists and revokes PATs through the TokenAdmin area', async () => {
    const connection = connect();
    const bobs = await createPat(env, { token: await env.userToken('bob@contoso.com') }, { displayName: `bob-${randomUUID().slice(0, 6)}` });
    env.issuedSecrets.add(bobs.token);
    const listed = await get(connection, 'TokenAdmin', LOCATIONS.tokenAdminList, '7.1', { subjectDescriptor: subjectDescriptor('user', BOB.id) }, {});
    expect(listed.value.map((token: { authorizationId: string }) => token.authorizationId)).toContain(bobs.authorizationId);
    const { url, accept } = await locate(connection, 'TokenAdmin', LOCATIONS.revocations, '7.1');
    const revoked = await connection.rest.create(url, [{ authorizationId: bobs.authorizationId }], accept);
    expect(revoked.statusCode).toBe(204);
    const after = await api.withAuthorization(`Basic ${Buffer.from(`:${bobs.token}`).toString('base64')}`).get(`/contoso/_apis/connectionData`);
    expect(after.status).toBe(401);
  });
});

/** Resolves a location the way the generated clients do: OPTIONS discovery, then version negotiation. */
async function locate(
  connection: WebApi,
  area: string,
  locationId: string,
  version: string,
  routeValues: Record<string, string> = {},
  query: Record<string, unknown> = {},
) {
  const { requestUrl, apiVersion } = await connection.vsoClient.getVersioningData(version, area, locationId, routeValues, query);
  if (!requestUrl || !apiVersion) throw new Error(`no location ${area}/${locationId}`);
  return { url: requestUrl, apiVersion, accept: { acceptHeader: `application/json;api-version=${apiVersion}` } };
}

/** A generic GET the way the generated clients make one: location, negotiated version, Accept header. */
async function get(connection: WebApi, area: string, locationId: string, version: string, routeValues: Record<string, string>, query: Record<string, unknown>) {
  const { url, accept } = await locate(connection, area, locationId, version, routeValues, query);
  const response = await connection.rest.get<any>(url, accept);
  expect(response.statusCode).toBe(200);
  return response.result;
}

describe('azure-devops-node-api on the PAT lifecycle resource', () => {
  it('creates, reads and revokes a PAT with a bearer token (the resource refuses PATs, as Azure DevOps does)', async () => {
    const connection = new WebApi(orgUrl, getBearerHandler(aliceBearer));
    const { url: requestUrl, accept } = await locate(connection, 'Tokens', LOCATIONS.pats, '7.1-preview.1');
    const validTo = new Date(env.clock.now().getTime() + 86_400_000).toISOString();
    const created = await connection.rest.create<any>(requestUrl, { displayName: 'from-node-client', scope: 'vso.code', validTo, allOrgs: false }, accept);
    expect(created.statusCode).toBe(200);
    const pat = created.result.patToken;
    env.issuedSecrets.add(pat.token);
    expect((await connection.rest.get<any>(`${requestUrl}?authorizationId=${pat.authorizationId}`, accept)).result.patToken.displayName).toBe(
      'from-node-client',
    );
    expect((await connection.rest.del(`${requestUrl}?authorizationId=${pat.authorizationId}`, accept)).statusCode).toBeLessThan(300);

    const withPat = new WebApi(orgUrl, getPersonalAccessTokenHandler(alicePat));
    await expect(withPat.rest.get(requestUrl, accept)).rejects.toMatchObject({ statusCode: 401 });
  });
});

describe('the api-version in the Accept header', () => {
  it('picks the PAT error envelope of its version, as the query parameter does', async () => {
    const create = (accept: string) =>
      api
        .as(aliceBearer)
        .post(
          '/contoso/_apis/tokens/pats',
          { displayName: '', scope: 'vso.code', validTo: new Date(env.clock.now().getTime() + 86_400_000).toISOString() },
          { headers: { accept } },
        );
    const v71 = await create('application/json;api-version=7.1-preview.1');
    expect(v71.status).toBe(400);
    expect(v71.body).toEqual({ patToken: null, patTokenError: 'displayNameRequired' });
    const v72 = await create('application/json;api-version=7.2-preview.1');
    expect(v72.body).toEqual({ patToken: null, patTokenError: 'displayNameRequired', patTokenErrorMessage: expect.any(String) });
    const malformed = await create('application/json;api-version=seven');
    expect(malformed.body.code).toBe('unsupportedApiVersion');
  });
});

describe('PAT scopes as Azure DevOps checks them', () => {
  it('refuses a PAT without the matching scope, with the coded 403', async () => {
    const codeOnly = (await createPat(env, { token: aliceBearer }, { scope: 'vso.code' })).token;
    env.issuedSecrets.add(codeOnly);
    const basic = `Basic ${Buffer.from(`:${codeOnly}`).toString('base64')}`;
    for (const path of [
      '/contoso/_apis/projects?api-version=7.1',
      '/contoso/_apis/audit/auditlog?api-version=7.1-preview.1',
      '/contoso/_apis/audit/downloadlog?api-version=7.1-preview.1&format=json',
      '/contoso/_apis/audit/actions?api-version=7.1-preview.1',
      `/contoso/_apis/tokenadmin/personalaccesstokens/${subjectDescriptor('user', BOB.id)}?api-version=7.1`,
    ]) {
      const reply = await api.withAuthorization(basic).get(path);
      expect(reply.status, path).toBe(403);
      expect(reply.body.code, path).toBe('insufficientScope');
    }
    const bobsProjectPat = (await createPat(env, { token: await env.userToken('bob@contoso.com') }, { scope: 'vso.project_write vso.tokenadministration' }))
      .token;
    env.issuedSecrets.add(bobsProjectPat);
    const bob = `Basic ${Buffer.from(`:${bobsProjectPat}`).toString('base64')}`;
    expect((await api.withAuthorization(bob).get('/contoso/_apis/projects?api-version=7.1')).status).toBe(200);
    const membersPat = (await createPat(env, { token: aliceBearer }, { scope: 'vso.memberentitlementmanagement vso.identity' })).token;
    env.issuedSecrets.add(membersPat);
    const members = `Basic ${Buffer.from(`:${membersPat}`).toString('base64')}`;
    expect((await api.withAuthorization(members).get('/contoso/_apis/userentitlements?api-version=7.1')).status).toBe(200);
    expect((await api.withAuthorization(members).get('/contoso/_apis/identities?api-version=7.1&searchFilter=General&filterValue=bob')).status).toBe(200);
    const readOnly = await api.withAuthorization(members).delete(`/contoso/_apis/userentitlements/${BOB.id}?api-version=7.1`);
    expect(readOnly.body.code).toBe('insufficientScope');
    expect((await api.withAuthorization(basic).get('/contoso/_apis/userentitlements?api-version=7.1')).body.code).toBe('insufficientScope');
    // The scope opens the route; Project Collection Administrator rights are still required.
    const admin = await api.withAuthorization(bob).get(`/contoso/_apis/tokenadmin/personalaccesstokens/${subjectDescriptor('user', BOB.id)}?api-version=7.1`);
    expect(admin.status).toBe(403);
  });
});

describe('project paging', () => {
  it('names the next page in x-ms-continuationtoken, and none after the last', async () => {
    const first = await api.as(aliceBearer).get('/contoso/_apis/projects?api-version=7.1&$top=3');
    expect(first.body.value.map((project: { name: string }) => project.name)).toEqual(['api', 'docs', 'infra']);
    expect(first.body.count).toBe(3);
    const token = first.headers.get('x-ms-continuationtoken');
    expect(token).toBe('3');
    const second = await api.as(aliceBearer).get(`/contoso/_apis/projects?api-version=7.1&$top=3&continuationToken=${token}`);
    expect(second.body.value.map((project: { name: string }) => project.name)).toEqual(['mobile', 'oss', 'web']);
    expect(second.headers.get('x-ms-continuationtoken')).toBeNull();
    const skipped = await api.as(aliceBearer).get('/contoso/_apis/projects?api-version=7.1&$top=1&$skip=1');
    expect(skipped.body.value.map((project: { name: string }) => project.name)).toEqual(['docs']);
    expect(skipped.headers.get('x-ms-continuationtoken')).toBe('2');
    const past = await api.as(aliceBearer).get('/contoso/_apis/projects?api-version=7.1&$skip=50');
    expect(past.body).toEqual({ count: 0, value: [] });
    for (const query of ['$top=0', '$top=abc', '$skip=-1', 'continuationToken=x', '$top=1001']) {
      const bad = await api.as(aliceBearer).get(`/contoso/_apis/projects?api-version=7.1&${query}`);
      expect(bad.status, query).toBe(400);
      expect(bad.body.code, query).toBe('invalidQueryParameter');
    }
  });

  it('pages only over the projects a project-scoped user may see', async () => {
    const limit = async (limitUserVisibilityToProjects: boolean) =>
      expect((await api.as(aliceBearer).patch('/contoso/_apis/organization/settings?api-version=7.1', { limitUserVisibilityToProjects })).status).toBe(200);
    await limit(true);
    const carol = await env.userToken('carol@contoso.com');
    const reply = await api.as(carol).get('/contoso/_apis/projects?api-version=7.1&$top=1');
    expect(reply.body.value.map((project: { name: string }) => project.name)).toEqual(['web']);
    expect(reply.headers.get('x-ms-continuationtoken')).toBeNull();
    await limit(false);
  });
});

describe('resource location discovery', () => {
  const options = (path: string) => api.request('OPTIONS', path, { headers: { accept: 'application/json' } });

  it('lists every organization resource, and each area case-insensitively', async () => {
    const all = await options('/contoso/_apis');
    expect(all.status).toBe(200);
    expect(all.body.count).toBe(all.body.value.length);
    const areas = new Set(all.body.value.map((location: { area: string }) => location.area));
    for (const area of ['Location', 'core', 'audit', 'TokenAdmin', 'Tokens', 'Packaging', 'npm', 'MemberEntitlementManagement']) expect(areas).toContain(area);
    const core = await options('/contoso/_apis/CORE');
    expect(core.body).toEqual({
      count: 1,
      value: [
        {
          id: '603fe2ac-9723-48b9-88ad-09305aa6c6e1',
          area: 'core',
          resourceName: 'projects',
          routeTemplate: '_apis/projects/{*projectId}',
          resourceVersion: 4,
          minVersion: '1.0',
          maxVersion: '7.2',
          releasedVersion: '7.1',
        },
      ],
    });
    const tokens = await options('/contoso/_apis/tokens');
    expect(tokens.body.value.map((location: { resourceName: string }) => location.resourceName)).toEqual(
      expect.arrayContaining(['pats', 'sshkeys', 'policies']),
    );
  });

  it('answers an unknown area with an empty list, and keeps 404 for other methods there', async () => {
    expect((await options('/contoso/_apis/nonsense')).body).toEqual({ count: 0, value: [] });
    expect((await options('/nowhere-org/_apis/nonsense')).body).toEqual({ count: 0, value: [] });
    const get = await api.as(aliceBearer).get('/contoso/_apis/nonsense?api-version=7.1');
    expect(get.status).toBe(404);
    expect(get.body.code).toBe('routeNotFound');
    const wrongMethod = await api.as(aliceBearer).delete('/contoso/_apis/projects?api-version=7.1');
    expect(wrongMethod.status).toBe(405);
    expect(wrongMethod.headers.get('allow')).toBe('GET, POST');
  });

  it('lists the deployment-level resources at /_apis', async () => {
    const all = await options('/_apis');
    const names = all.body.value.map((location: { area: string; resourceName: string }) => `${location.area}/${location.resourceName}`);
    expect(names).toEqual(expect.arrayContaining(['organization/organizations', 'Tokens/sshkeyLookups', 'audit/actions']));
    expect(names).not.toContain('core/projects');
    expect((await options('/_apis/organization')).body.value.map((location: { routeTemplate: string }) => location.routeTemplate)).toEqual([
      '_apis/organizations',
    ]);
  });
});
