import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { createPat } from '../helpers/http.js';
import { ALICE, BOB } from '../helpers/demo.js';
import { subjectDescriptor } from '../../shared/auth/caller.js';
import type { ApiResourceLocation } from '../../shared/http/locations.js';
import { isApiVersionInRange } from '../../shared/http/api-versions.js';

/**
 * Microsoft's Python client (`azure-devops` 7.1, microsoft/azure-devops-python-api) cannot be
 * installed here (no PyPI), so this suite replays its request sequence as its public source
 * describes it, with the versions and location ids its `v7_1` and `released` clients send:
 *
 * - A Connection first reads the resource areas with the v5_1 location client; an empty list
 *   means every client uses the organization URL.
 * - Every client asks `OPTIONS {url}/_apis` once (Accept `application/json`), then per call picks
 *   the location by id, negotiates the version (fails when the location's minVersion is above the
 *   requested version; caps it at maxVersion, adding `-preview` when that is above the released
 *   version; caps a preview's `.N` at the resourceVersion), fills the route template (a missing
 *   value drops its segment) and sends the version only in the Accept header, with its
 *   X-TFS-FedAuthRedirect and X-VSS-ForceMsaPassThrough headers.
 * - Paged results name the next page in the X-MS-ContinuationToken header.
 */
class PythonClientSequence {
  private locations: ApiResourceLocation[] | undefined;
  readonly requests: string[] = [];

  constructor(
    private readonly baseUrl: string,
    private readonly authorization: string,
  ) {}

  private headers(accept: string): Record<string, string> {
    return { Authorization: this.authorization, Accept: accept, 'X-TFS-FedAuthRedirect': 'Suppress', 'X-VSS-ForceMsaPassThrough': 'true' };
  }

  async resourceLocations(): Promise<ApiResourceLocation[]> {
    if (!this.locations) {
      const url = `${this.baseUrl.replace(/\/$/, '')}/_apis`;
      this.requests.push(`OPTIONS ${url}`);
      const response = await fetch(url, { method: 'OPTIONS', headers: this.headers('application/json') });
      expect(response.status).toBe(200);
      this.locations = ((await response.json()) as { value: ApiResourceLocation[] }).value;
    }
    return this.locations;
  }

  static negotiate(location: ApiResourceLocation, requested: string): string {
    const match = /^(\d+(?:\.\d)?)(-preview(?:.(\d+))?)?/.exec(requested)!;
    const version = Number(match[1]);
    if (Number(location.minVersion) > version) throw new TypeError(`the client cannot build an Accept header: ${location.minVersion} > ${requested}`);
    if (Number(location.maxVersion) < version) {
      return Number(location.releasedVersion) < Number(location.maxVersion) ? `${location.maxVersion}-preview` : location.maxVersion;
    }
    if (!match[2]) return match[1]!;
    if (match[3] === undefined) return `${match[1]}-preview`;
    return `${match[1]}-preview.${Math.min(Number(match[3]), location.resourceVersion)}`;
  }

  static fill(template: string, values: Record<string, string>): string {
    return template
      .replace(/\{\*/g, '{')
      .split('/')
      .flatMap((segment) => {
        const name = /^\{(.+)\}$/.exec(segment)?.[1];
        if (name === undefined) return [segment];
        return values[name] === undefined ? [] : [encodeURIComponent(values[name])];
      })
      .join('/');
  }

  async send(
    method: string,
    locationId: string,
    version: string,
    options: { routeValues?: Record<string, string>; query?: Record<string, string>; body?: unknown; accept?: string } = {},
  ): Promise<Response> {
    const location = (await this.resourceLocations()).find((candidate) => candidate.id === locationId);
    if (!location) throw new Error(`API resource location ${locationId} is not registered on ${this.baseUrl}.`);
    const path = PythonClientSequence.fill(location.routeTemplate, { ...options.routeValues, area: location.area, resource: location.resourceName });
    const query = new URLSearchParams(options.query ?? {}).toString();
    const url = `${this.baseUrl.replace(/\/$/, '')}/${path}${query ? `?${query}` : ''}`;
    const headers = this.headers(`${options.accept ?? 'application/json'};api-version=${PythonClientSequence.negotiate(location, version)}`);
    headers['Content-Type'] = 'application/json; charset=utf-8';
    this.requests.push(`${method} ${url} ${headers.Accept}`);
    return fetch(url, { method, headers, ...(options.body === undefined ? {} : { body: JSON.stringify(options.body) }) });
  }

  /** What Connection does before creating a client: read the resource areas, pick the client's URL. */
  async clientUrl(areaId: string): Promise<string> {
    const response = await this.send('GET', 'e81700f7-3be2-46de-8624-2eb35882fcaa', '5.1-preview.1');
    expect(response.status).toBe(200);
    const areas = ((await response.json()) as { value: { id: string; locationUrl: string }[] }).value;
    if (areas.length === 0) return this.baseUrl;
    const area = areas.find((candidate) => candidate.id.toLowerCase() === areaId);
    if (!area) throw new Error(`area ${areaId} would be looked up at Microsoft's global service`);
    return area.locationUrl;
  }
}

const AREAS = {
  core: '79134c72-4a58-4b42-976c-04e7115f32bf',
  audit: '94ff054d-5ee1-413d-9341-3f4a7827de2e',
  tokenAdmin: 'af68438b-ed04-4407-9eb6-f1dbae3f922e',
};

let env: TestEnvironment;
let patAuthorization: string;
let bearerAuthorization: string;

beforeAll(async () => {
  env = await startTestEnvironment();
  const bearer = await env.userToken('alice@contoso.com');
  bearerAuthorization = `Bearer ${bearer}`;
  const pat = await createPat(env, { token: bearer }, { scope: 'vso.project vso.auditlog vso.tokenadministration' });
  env.issuedSecrets.add(pat.token);
  // The Python client's BasicAuthentication('', pat).
  patAuthorization = `Basic ${Buffer.from(`:${pat.token}`).toString('base64')}`;
});

afterAll(async () => {
  await env?.stop();
});

describe.each([
  ['a PAT', () => patAuthorization],
  ['a bearer token', () => bearerAuthorization],
])('the azure-devops Python client sequence with %s', (_, authorization) => {
  const client = () => new PythonClientSequence(`${env.url}/contoso`, authorization());

  it('resolves every client to the organization URL and discovers locations once', async () => {
    const python = client();
    expect(await python.clientUrl(AREAS.core)).toBe(`${env.url}/contoso`);
    const connectionData = await python.send('GET', '00d9565f-ed9c-4a06-9a50-00e7896ccab4', '7.1-preview.1', { query: { connectOptions: '0' } });
    expect(((await connectionData.json()) as { authenticatedUser: { id: string } }).authenticatedUser.id).toBe(ALICE.id);
    expect(python.requests.filter((request) => request.startsWith('OPTIONS'))).toHaveLength(1);
  });

  it.each([
    ['v7_1', '7.1-preview.4'],
    ['released', '7.0'],
  ])('core client (%s): get_projects pages with X-MS-ContinuationToken, get_project by id', async (_, version) => {
    const python = client();
    const first = await python.send('GET', '603fe2ac-9723-48b9-88ad-09305aa6c6e1', version, { query: { $top: '1' } });
    expect(first.status).toBe(200);
    const page = (await first.json()) as { count: number; value: { id: string; name: string }[] };
    expect(page.value.map((project) => project.name)).toEqual(['api']);
    const next = first.headers.get('X-MS-ContinuationToken');
    expect(next).toBe('1');
    const second = await python.send('GET', '603fe2ac-9723-48b9-88ad-09305aa6c6e1', version, { query: { $top: '1', continuationToken: next! } });
    expect(((await second.json()) as { value: { name: string }[] }).value.map((project) => project.name)).toEqual(['oss']);
    const one = await python.send('GET', '603fe2ac-9723-48b9-88ad-09305aa6c6e1', version, { routeValues: { projectId: page.value[0]!.id } });
    expect(((await one.json()) as { name: string }).name).toBe('api');
  });

  it('audit client (v7_1): get_actions, query_log, download_log', async () => {
    const python = client();
    expect(await python.clientUrl(AREAS.audit)).toBe(`${env.url}/contoso`);
    const actions = await python.send('GET', '6fa30b9a-9558-4e3b-a95f-a12572caa6e6', '7.1-preview.1', { query: { areaName: 'Token' } });
    expect(((await actions.json()) as { value: unknown[] }).value.length).toBeGreaterThan(0);
    const log = await python.send('GET', '4e5fa14f-7097-4b73-9c85-00abc7353c61', '7.1-preview.1', { query: { batchSize: '10', skipAggregation: 'True' } });
    expect(log.status).toBe(200);
    expect(Array.isArray(((await log.json()) as { decoratedAuditLogEntries: unknown[] }).decoratedAuditLogEntries)).toBe(true);
    const download = await python.send('GET', 'b7b98a76-04e8-4f4d-ac72-9d46492caaac', '7.1-preview.1', {
      query: { format: 'json' },
      accept: 'application/octet-stream',
    });
    expect(download.status).toBe(200);
    expect(Array.isArray(JSON.parse(await download.text()))).toBe(true);
  });

  it.each([
    ['v7_1', '7.1-preview.1'],
    ['released', '7.0'],
  ])('token admin client (%s): list_personal_access_tokens, revoke_authorizations, create_revocation_rule', async (_, version) => {
    const python = client();
    expect(await python.clientUrl(AREAS.tokenAdmin)).toBe(`${env.url}/contoso`);
    const bobs = await createPat(env, { token: await env.userToken('bob@contoso.com') });
    env.issuedSecrets.add(bobs.token);
    const listed = await python.send('GET', 'af68438b-ed04-4407-9eb6-f1dbae3f922e', version, {
      routeValues: { subjectDescriptor: subjectDescriptor('user', BOB.id) },
      query: { pageSize: '20', isPublic: 'False' },
    });
    expect(listed.status).toBe(200);
    expect(((await listed.json()) as { value: { authorizationId: string }[] }).value.map((token) => token.authorizationId)).toContain(bobs.authorizationId);
    const revoked = await python.send('POST', 'a9c08b2c-5466-4e22-8626-1ff304ffdf0f', version, { body: [{ authorizationId: bobs.authorizationId }] });
    expect(revoked.status).toBe(204);
    const rule = await python.send('POST', 'ee4afb16-e7ab-4ed8-9d4b-4ef3e78f97e4', version, {
      body: { scopes: 'vso.wiki', createdBefore: env.clock.now().toISOString() },
    });
    expect(rule.status).toBe(201);
  });
});

describe('version negotiation against the discovered locations', () => {
  it("lands inside every location's range for each version the v7_1 and released clients send", async () => {
    const locations = await new PythonClientSequence(`${env.url}/contoso`, patAuthorization).resourceLocations();
    expect(locations.length).toBeGreaterThan(20);
    for (const location of locations) {
      const previewOnly = location.releasedVersion === '0.0';
      const range = {
        min: location.minVersion,
        max: location.maxVersion,
        resourceVersion: location.resourceVersion,
        ...(previewOnly ? {} : { released: location.releasedVersion }),
      };
      // Released versions are only asked of resources that have one.
      for (const requested of ['5.1-preview.1', '7.1-preview.1', '7.1-preview.4', '7.2-preview.1', ...(previewOnly ? [] : ['7.0', '7.1'])]) {
        let negotiated: string;
        try {
          negotiated = PythonClientSequence.negotiate(location, requested);
        } catch {
          expect(Number(location.minVersion)).toBeGreaterThan(5.1); // only 5.1 is below some minimums
          continue;
        }
        expect(isApiVersionInRange(negotiated, range), `${location.area}/${location.resourceName} ${requested} -> ${negotiated}`).toBe(true);
      }
    }
  });
});
