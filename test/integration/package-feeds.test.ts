import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { expectSwaggerValid } from '../helpers/swagger.js';
import { LocalNpmRegistry, packPackages, tempDir, type PackedTarball } from '../helpers/npm.js';
import { auditEventSchema, type AuditEvent } from '../../shared/audit/events.js';
import { QUEUES, TABLES, CONTAINERS } from '../../shared/storage/names.js';
import { packagePartition } from '../../shared/packaging/store.js';
import { deliverAuditQueue, drainQueueTexts } from '../helpers/queues.js';
import { listOutboxRows } from '../../shared/audit/outbox.js';

/** Feeds, the npm registry protocol over HTTP, the upstreaming behavior API and bad input. */

let env: TestEnvironment;
const api = client(() => env);
let upstream: LocalNpmRegistry;
let alice: string;
let bob: string;
let dave: string;
let reader: string;
let tarballs: Map<string, PackedTarball>;
let feedId: string;

const V = 'api-version=7.1';
const NPM_SPEC = 'artifactsPackageTypes/7.1/npm.json';
const REGISTRY = '/contoso/_packaging/main/npm/registry';

const tarball = (name: string, version: string) => tarballs.get(`${name}@${version}`)!;

/** The document `npm publish` sends. */
function publishDocument(t: PackedTarball, change: (doc: any) => void = () => undefined) {
  const unscoped = t.name.split('/').pop();
  const doc: any = {
    _id: t.name,
    name: t.name,
    description: 'test',
    'dist-tags': { latest: t.version },
    versions: {
      [t.version]: {
        name: t.name,
        version: t.version,
        _id: `${t.name}@${t.version}`,
        readme: '# readme',
        dist: { shasum: t.shasum, integrity: t.integrity, tarball: `http://example.invalid/${t.name}/-/${unscoped}-${t.version}.tgz` },
      },
    },
    access: null,
    _attachments: { [`${t.name}-${t.version}.tgz`]: { content_type: 'application/octet-stream', data: t.bytes.toString('base64'), length: t.bytes.length } },
  };
  change(doc);
  return doc;
}

const npmPath = (name: string) => (name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : name);
const publish = (t: PackedTarball, change?: (doc: any) => void, token = alice, registry = REGISTRY) =>
  api.as(token).put(`${registry}/${npmPath(t.name)}`, publishDocument(t, change));

async function versionRows(feed: string, name: string): Promise<string[]> {
  const rows: string[] = [];
  const partition = packagePartition(feed, name);
  for await (const row of env.app.storage.table(TABLES.npmPackages).listEntities<{ version: string }>({
    queryOptions: { filter: `PartitionKey eq '${partition}' and RowKey ge 'v_' and RowKey lt 'v\`'` },
  }))
    rows.push(row.version);
  return rows.sort();
}

async function drainAudit(): Promise<AuditEvent[]> {
  const drained = (await drainQueueTexts(env, QUEUES.audit)).map((text) => auditEventSchema.parse(JSON.parse(text)));
  return drained;
}

beforeAll(async () => {
  const work = await tempDir('feeds');
  const packed = await packPackages(join(work, 'packages'), [
    { name: '@contoso/lib', version: '1.0.0' },
    { name: '@contoso/lib', version: '1.0.1' },
    { name: '@contoso/lib', version: '3.0.0' },
    { name: 'internal-tool', version: '1.0.0' },
    { name: 'internal-tool', version: '9.0.0' },
    { name: 'public-only', version: '1.0.0' },
    { name: 'flaky', version: '1.0.0' },
    { name: 'flaky', version: '2.0.0' },
    { name: 'big-one', version: '1.0.0', padding: randomBytes(150_000).toString('base64') },
  ]);
  tarballs = new Map(packed.map((item) => [`${item.name}@${item.version}`, item]));
  upstream = new LocalNpmRegistry();
  // The public registry has a newer @contoso/lib and internal-tool (name confusion) and public-only.
  upstream.add(tarball('@contoso/lib', '3.0.0'), tarball('internal-tool', '9.0.0'), tarball('public-only', '1.0.0'), tarball('flaky', '2.0.0'));
  await upstream.start();
  env = await startTestEnvironment({
    settings: { NPM_UPSTREAM_URL: upstream.url, NPM_UPSTREAM_TIMEOUT_MS: '700', NPM_MAX_TARBALL_BYTES: String(64 * 1024) },
  });
  const packaging = ['vso.packaging_manage'];
  alice = await env.userToken('alice@contoso.com', { scopes: packaging });
  bob = await env.userToken('bob@contoso.com', { scopes: packaging });
  dave = await env.userToken('dave@contoso.com', { scopes: packaging });
  reader = await env.userToken('dave@contoso.com', { scopes: ['vso.packaging'] });
  const created = await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, {
    name: 'main',
    description: 'the organization feed',
    upstreamSources: [{ upstreamSourceType: 'public' }],
    owners: ['b0b00000-0000-4000-8000-00000000000b'],
  });
  expect(created.status, created.text).toBe(201);
  feedId = created.body.id;
}, 120_000);

afterAll(async () => {
  await env?.stop();
  await upstream?.stop();
});

describe('feeds', () => {
  it('creates organization and project feeds for administrators only', async () => {
    const feed = await api.as(dave).get(`/contoso/_apis/packaging/feeds/main?${V}`);
    expect(feed.status).toBe(200);
    expect(feed.body).toMatchObject({
      id: feedId,
      name: 'main',
      project: null,
      upstreamEnabled: true,
      owners: ['a11ce000-0000-4000-8000-00000000000a', 'b0b00000-0000-4000-8000-00000000000b'],
      upstreamSources: [{ upstreamSourceType: 'public', protocol: 'npm', location: upstream.url, internalUpstreamFeedId: null }],
      npmRegistryUrl: `${env.url}${REGISTRY}/`,
    });
    expect((await api.as(dave).get(`/contoso/_apis/packaging/feeds/${feedId}?${V}`)).body.name).toBe('main');

    const byBob = await api.as(bob).post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'bobs' });
    expect(byBob.status).toBe(403);
    expect(byBob.body.code).toBe('feedPermissionDenied');
    expect((await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'main' })).body.code).toBe('feedAlreadyExists');
    expect((await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, { name: '../etc' })).status).toBe(400);
    const elsewhere = await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, {
      name: 'elsewhere',
      upstreamSources: [{ upstreamSourceType: 'public', location: 'https://registry.example.com/' }],
    });
    expect(elsewhere.status).toBe(400);
    expect(elsewhere.body.code).toBe('upstreamLocationNotAllowed');

    const project = await api.as(alice).post(`/contoso/web/_apis/packaging/feeds?${V}`, { name: 'web-feed', upstreamSources: [] });
    expect(project.status, project.text).toBe(201);
    expect(project.body.project).toMatchObject({ name: 'web' });
    expect(project.body.npmRegistryUrl).toBe(`${env.url}/contoso/web/_packaging/web-feed/npm/registry/`);
    // A project feed is found through its project only, and only by people who can see the project.
    expect((await api.as(alice).get(`/contoso/_apis/packaging/feeds/web-feed?${V}`)).status).toBe(404);
    expect((await api.as(dave).get(`/contoso/web/_apis/packaging/feeds/web-feed?${V}`)).status).toBe(404);
    expect((await api.as(bob).get(`/contoso/web/_apis/packaging/feeds/web-feed?${V}`)).status).toBe(200);
    const list = await api.as(dave).get(`/contoso/_apis/packaging/feeds?${V}`);
    expect(list.body.value.map((item: any) => item.name)).toEqual(['main']);
    // Wrong scope, missing api-version, anonymous.
    expect((await api.as(reader).post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'x' })).status).toBe(403);
    expect((await api.as(alice).get('/contoso/_apis/packaging/feeds')).body.code).toBe('apiVersionRequired');
    expect((await api.get(`/contoso/_apis/packaging/feeds?${V}`)).status).toBe(401);
  });

  it('refuses internal upstream cycles', async () => {
    const a = await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'cycle-a', upstreamSources: [] });
    const b = await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, {
      name: 'cycle-b',
      upstreamSources: [{ upstreamSourceType: 'internal', internalUpstreamFeedId: 'cycle-a' }],
    });
    expect(b.status, b.text).toBe(201);
    const cycle = await api.as(alice).patch(`/contoso/_apis/packaging/feeds/${a.body.id}?${V}`, {
      upstreamSources: [{ upstreamSourceType: 'internal', internalUpstreamFeedId: 'cycle-b' }],
    });
    expect(cycle.status).toBe(400);
    expect(cycle.body.code).toBe('upstreamCycle');
    const self = await api.as(alice).patch(`/contoso/_apis/packaging/feeds/cycle-a?${V}`, {
      upstreamSources: [{ upstreamSourceType: 'internal', internalUpstreamFeedId: 'cycle-a' }],
    });
    expect(self.body.code).toBe('upstreamCycle');
    expect((await api.as(dave).patch(`/contoso/_apis/packaging/feeds/cycle-a?${V}`, { description: 'mine' })).status).toBe(403);
  });
});

describe('npm registry protocol', () => {
  it('refuses anonymous requests and callers without packaging scopes', async () => {
    const anonymous = await api.get(`${REGISTRY}/public-only`);
    expect(anonymous.status).toBe(401);
    expect(anonymous.headers.get('www-authenticate')).toMatch(/Bearer/);
    const noScope = await env.userToken('dave@contoso.com', { scopes: ['vso.code'] });
    expect((await api.as(noScope).get(`${REGISTRY}/public-only`)).status).toBe(403);
    const readOnly = await publish(tarball('internal-tool', '1.0.0'), undefined, reader);
    expect(readOnly.status).toBe(403);
    // A member without publish rights on the feed.
    const notContributor = await publish(tarball('internal-tool', '1.0.0'), undefined, dave);
    expect(notContributor.status).toBe(403);
    expect(notContributor.body.code).toBe('feedPermissionDenied');
    expect((await api.as(alice).get(`/fabrikam/_packaging/main/npm/registry/public-only`)).status).toBe(404);
    expect((await api.as(alice).get(`/contoso/_packaging/nope/npm/registry/public-only`)).body.code).toBe('feedNotFound');
  });

  it('publishes, then serves the packument and the tarball from the feed', async () => {
    const t = tarball('@contoso/lib', '1.0.0');
    const published = await publish(t);
    expect(published.status, published.text).toBe(201);
    const doc = await api.as(dave).get(`${REGISTRY}/@contoso%2flib`);
    expect(doc.status).toBe(200);
    expect(doc.body['dist-tags']).toEqual({ latest: '1.0.0' });
    expect(Object.keys(doc.body.versions)).toEqual(['1.0.0']); // 3.0.0 upstream is public: hidden
    const dist = doc.body.versions['1.0.0'].dist;
    expect(dist).toMatchObject({ shasum: t.shasum, integrity: t.integrity, tarball: `${env.url}${REGISTRY}/@contoso/lib/-/lib-1.0.0.tgz` });
    expect(doc.body.versions['1.0.0'].readme).toBeUndefined();
    // The unencoded form reads the same.
    expect((await api.as(dave).get(`${REGISTRY}/@contoso/lib`)).body.versions['1.0.0']).toBeDefined();
    const download = await env.fetch(`${REGISTRY}/@contoso/lib/-/lib-1.0.0.tgz`, { token: dave });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(t.bytes)).toBe(true);
    // The tarball is stored under its content address.
    const blobs: string[] = [];
    for await (const blob of (await env.app.storage.blobs())!.getContainerClient(CONTAINERS.packages).listBlobsFlat()) blobs.push(blob.name);
    expect(blobs).toContain(`npm/sha512/${Buffer.from(t.integrity.slice(7), 'base64').toString('hex')}.tgz`);
    expect((await api.as(dave).get(`${REGISTRY}/@contoso/lib/-/lib-3.0.0.tgz`)).body.code).toBe('packageVersionNotFound');
    expect((await api.as(dave).get(`${REGISTRY}/-/ping`)).status).toBe(200);
    expect((await api.as(dave).get(`${REGISTRY}/-/whoami`)).body).toEqual({ username: 'dave@contoso.com' });
  });

  it('refuses bad publishes with a code and saves nothing of them', async () => {
    const t = tarball('internal-tool', '1.0.0');
    const cases: [string, Awaited<ReturnType<typeof publish>>, number, string][] = [
      ['shasum', await publish(t, (doc) => (doc.versions['1.0.0'].dist.shasum = '0'.repeat(40))), 400, 'integrityMismatch'],
      [
        'integrity',
        await publish(t, (doc) => (doc.versions['1.0.0'].dist.integrity = `sha512-${Buffer.alloc(64).toString('base64')}`)),
        400,
        'integrityMismatch',
      ],
      ['length', await publish(t, (doc) => (doc._attachments['internal-tool-1.0.0.tgz'].length = 3)), 400, 'invalidTarball'],
      ['base64', await publish(t, (doc) => (doc._attachments['internal-tool-1.0.0.tgz'].data = '!!!!')), 400, 'invalidTarball'],
      [
        'not semver',
        await publish(t, (doc) => {
          doc.versions = { 'v1.0': { ...doc.versions['1.0.0'], version: 'v1.0' } };
        }),
        400,
        'invalidPackageVersion',
      ],
      ['name mismatch', await publish(t, (doc) => (doc.name = 'other-tool')), 400, 'packageNameMismatch'],
      ['two versions', await publish(t, (doc) => (doc.versions['2.0.0'] = doc.versions['1.0.0'])), 400, 'invalidPublishRequest'],
    ];
    for (const [label, reply, status, code] of cases) {
      expect(reply.status, label).toBe(status);
      expect(reply.body.code, label).toBe(code);
      expect(reply.body.error, label).toMatch(new RegExp(`^${code}: `));
    }
    const badNames = ['..%2f..%2fetc%2fpasswd', '.hidden', 'UPPER', '%40scope', 'a%5cb', 'node_modules', 'x'.repeat(215)];
    for (const name of badNames) {
      const reply = await api.as(alice).put(
        `${REGISTRY}/${name}`,
        publishDocument(t, (doc) => (doc.name = decodeURIComponent(name))),
      );
      expect(reply.status, name).toBe(400);
      expect(reply.body.code, name).toBe('invalidPackageName');
    }
    expect((await api.as(alice).get(`${REGISTRY}/..%2f..%2fsecrets`)).body.code).toBe('invalidPackageName');
    expect((await api.as(alice).put(`${REGISTRY}/internal-tool`, 'not json')).body.code).toBe('invalidJson');
    // Over the tarball limit (64 KiB here): 413 from the handler, or from the body limit when far over.
    const big = tarball('big-one', '1.0.0');
    expect(big.bytes.length).toBeGreaterThan(64 * 1024);
    const tooBig = await publish(big);
    expect(tooBig.status).toBe(413);
    expect(tooBig.body.code).toBe('packageTooLarge');
    const huge = await api.as(alice).put(
      `${REGISTRY}/big-one`,
      publishDocument(big, (doc) => (doc.padding = 'y'.repeat(2 * 1024 * 1024))),
    );
    expect(huge.status).toBe(413);
    expect(huge.body.code).toBe('requestBodyTooLarge');
    expect(await versionRows(feedId, 'internal-tool')).toEqual([]);
    expect(await versionRows(feedId, 'big-one')).toEqual([]);

    expect((await publish(t)).status).toBe(201);
    const again = await publish(t);
    expect(again.status).toBe(409);
    expect(again.body.code).toBe('packageVersionExists');
    expect(await versionRows(feedId, 'internal-tool')).toEqual(['1.0.0']);
  });

  it('manages dist-tags, auditing the publish and every tag change once', async () => {
    await deliverAuditQueue(env);
    const published = await publish(tarball('@contoso/lib', '1.0.1'), (doc) => (doc['dist-tags'] = { next: '1.0.1' }), alice);
    expect(published.status, published.text).toBe(201);
    const tags = await api.as(dave).get(`${REGISTRY}/-/package/@contoso%2flib/dist-tags`);
    expect(tags.body).toEqual({ latest: '1.0.0', next: '1.0.1' });
    const tag = `${REGISTRY}/-/package/@contoso%2flib/dist-tags`;
    expect((await api.as(alice).put(`${tag}/beta`, '"1.0.1"')).status).toBe(201);
    expect((await api.as(alice).put(`${tag}/beta`, '"1.0.1"')).status).toBe(201); // already there: no change
    expect((await api.as(alice).put(`${tag}/beta`, '"1.0.0"')).status).toBe(201);
    expect((await api.as(alice).put(`${tag}/beta`, '"3.0.0"')).body.code).toBe('packageVersionNotFound');
    expect((await api.as(alice).put(`${tag}/1.0.0`, '"1.0.1"')).body.code).toBe('invalidDistTag');
    expect((await api.as(dave).put(`${tag}/beta`, '"1.0.1"')).status).toBe(403);
    expect((await api.as(alice).delete(`${tag}/latest`)).body.code).toBe('invalidDistTag');
    expect((await api.as(alice).delete(`${tag}/beta`)).status).toBe(200);
    expect((await api.as(alice).delete(`${tag}/beta`)).body.code).toBe('distTagNotFound');
    expect((await api.as(dave).get(`${REGISTRY}/-/package/@contoso%2flib/dist-tags`)).body).toEqual({ latest: '1.0.0', next: '1.0.1' });

    const events = await deliverAuditQueue(env);
    expect(events.map((event) => event.actionId)).toEqual([
      'Artifacts.Package.Publish',
      'Artifacts.Package.DistTag.Add',
      'Artifacts.Package.DistTag.Move',
      'Artifacts.Package.DistTag.Remove',
    ]);
    const feed = { FeedId: feedId, FeedName: 'main', Protocol: 'npm', PackageName: '@contoso/lib' };
    expect(events[0]).toMatchObject({
      area: 'Artifacts',
      category: 'create',
      actor: { displayName: expect.any(String) },
      data: { ...feed, PackageVersion: '1.0.1', PreviousDistTags: {}, DistTags: { next: '1.0.1' } },
    });
    expect(events[0]!.ipAddress).toBeDefined();
    expect(events[1]).toMatchObject({ category: 'create', data: { ...feed, Tag: 'beta', PackageVersion: '1.0.1' } });
    expect(events[2]).toMatchObject({ category: 'modify', data: { ...feed, Tag: 'beta', PreviousVersion: '1.0.1', PackageVersion: '1.0.0' } });
    expect(events[3]).toMatchObject({ category: 'remove', data: { ...feed, Tag: 'beta', PreviousVersion: '1.0.0' } });
    // The outbox rows are gone once their events are stored.
    expect(await listOutboxRows(env.app, TABLES.npmPackages, packagePartition(feedId, '@contoso/lib'))).toEqual([]);
  });
});

describe('upstreams', () => {
  it('serves and saves public packages; answers 502 with the cause when an upstream fails and nothing local can answer', async () => {
    const doc = await api.as(dave).get(`${REGISTRY}/public-only`);
    expect(doc.status).toBe(200);
    expect(doc.body.versions['1.0.0'].dist.tarball).toBe(`${env.url}${REGISTRY}/public-only/-/public-only-1.0.0.tgz`);
    expect(await versionRows(feedId, 'public-only')).toEqual([]); // listing does not save
    const download = await env.fetch(`${REGISTRY}/public-only/-/public-only-1.0.0.tgz`, { token: dave });
    expect(download.status).toBe(200);
    expect(Buffer.from(await download.arrayBuffer()).equals(tarball('public-only', '1.0.0').bytes)).toBe(true);
    expect(await versionRows(feedId, 'public-only')).toEqual(['1.0.0']);
    expect((await api.as(dave).get(`${REGISTRY}/no-such-package`)).body.code).toBe('packageNotFound');

    const failures: [string, string][] = [
      ['hang', 'upstreamTimeout'],
      ['garbage', 'upstreamInvalidResponse'],
      ['error', 'upstreamError'],
    ];
    for (const [mode, code] of failures) {
      upstream.mode('flaky', mode as 'hang');
      const reply = await api.as(dave).get(`${REGISTRY}/flaky`);
      expect(reply.status, mode).toBe(502);
      expect(reply.body.code, mode).toBe(code);
      expect(reply.body.message, mode).toMatch(/npmjs|upstream/);
      // What the feed has saved (here: already saved public-only) is still served meanwhile.
      upstream.mode('public-only', mode as 'hang');
      const saved = await api.as(dave).get(`${REGISTRY}/public-only`);
      expect(saved.status, mode).toBe(200);
      expect(Object.keys(saved.body.versions)).toEqual(['1.0.0']);
      upstream.mode('public-only', 'normal');
    }
    // A published flaky version: the feed answers from what it has while the upstream is down.
    expect((await publish(tarball('flaky', '1.0.0'))).status).toBe(201);
    upstream.mode('flaky', 'error');
    expect(Object.keys((await api.as(dave).get(`${REGISTRY}/flaky`)).body.versions)).toEqual(['1.0.0']);

    // A tarball that does not match its published integrity is refused and not saved.
    upstream.mode('flaky', 'wrongTarball');
    await api
      .as(alice)
      .patch(`/contoso/_apis/packaging/feeds/main/npm/packages/flaky/upstreaming?${V}`, { versionsFromExternalUpstreams: 'allowExternalVersions' });
    const tampered = await api.as(dave).get(`${REGISTRY}/flaky/-/flaky-2.0.0.tgz`);
    expect(tampered.status).toBe(502);
    expect(tampered.body.code).toBe('upstreamIntegrityMismatch');
    expect(await versionRows(feedId, 'flaky')).toEqual(['1.0.0']);
    upstream.mode('flaky', 'normal');
  });

  it('counts versions from an internal upstream as internal', async () => {
    // `team` publishes internal-tool; `consumer` upstreams to team first, then the public registry.
    const team = await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, { name: 'team', upstreamSources: [] });
    const consumer = await api.as(alice).post(`/contoso/_apis/packaging/feeds?${V}`, {
      name: 'consumer',
      upstreamSources: [{ upstreamSourceType: 'internal', internalUpstreamFeedId: team.body.id }, { upstreamSourceType: 'public' }],
    });
    expect(consumer.status, consumer.text).toBe(201);
    expect(consumer.body.upstreamSources.map((source: any) => source.upstreamSourceType)).toEqual(['internal', 'public']);
    expect((await publish(tarball('internal-tool', '1.0.0'), undefined, alice, '/contoso/_packaging/team/npm/registry')).status).toBe(201);
    const doc = await api.as(dave).get('/contoso/_packaging/consumer/npm/registry/internal-tool');
    expect(Object.keys(doc.body.versions)).toEqual(['1.0.0']); // public 9.0.0 is hidden
    const download = await env.fetch('/contoso/_packaging/consumer/npm/registry/internal-tool/-/internal-tool-1.0.0.tgz', { token: dave });
    expect(download.status).toBe(200);
    const rows: any[] = [];
    for await (const row of env.app.storage.table(TABLES.npmPackages).listEntities<any>({
      queryOptions: { filter: `PartitionKey eq '${packagePartition(consumer.body.id, 'internal-tool')}' and RowKey eq 'v_1.0.0'` },
    }))
      rows.push(row);
    expect(rows[0]).toMatchObject({ origin: 'internal', source: `feed:${team.body.id}` });
    // A public-only package passes through both: external, not blocked.
    expect(Object.keys((await api.as(dave).get('/contoso/_packaging/consumer/npm/registry/public-only')).body.versions)).toEqual(['1.0.0']);
  });
});

describe('upstreaming behavior API', () => {
  const base = `/contoso/_apis/packaging/feeds/main/npm/packages`;

  it('reads and sets the behavior on every route form, validated against the official spec, and audits changes', async () => {
    await drainAudit();
    const initial = await api.as(reader).get(`${base}/@contoso/lib/upstreaming?${V}`);
    expect(initial.status).toBe(200);
    expect(initial.body).toEqual({ versionsFromExternalUpstreams: 'auto' });
    expectSwaggerValid(NPM_SPEC, 'UpstreamingBehavior', initial.body, { exact: true });

    const set = await api.as(bob).patch(`${base}/@contoso/lib/upstreaming?${V}`, { versionsFromExternalUpstreams: 'AllowExternalVersions' });
    expect(set.status, set.text).toBe(200);
    expect(set.text).toBe('');
    const after = await api.as(reader).get(`/contoso/_apis/packaging/feeds/${feedId}/npm/packages/@contoso/lib/upstreaming?${V}`);
    expect(after.body).toEqual({ versionsFromExternalUpstreams: 'allowExternalVersions' });
    expectSwaggerValid(NPM_SPEC, 'UpstreamingBehavior', after.body, { exact: true });
    // The rule no longer hides the public 3.0.0.
    expect(Object.keys((await api.as(dave).get(`${REGISTRY}/@contoso%2flib`)).body.versions)).toEqual(['1.0.0', '1.0.1', '3.0.0']);

    // Unscoped form, a package the feed does not hold yet, and the project form.
    expect((await api.as(alice).patch(`${base}/not-yet-here/upstreaming?${V}`, { versionsFromExternalUpstreams: 'allowExternalVersions' })).status).toBe(200);
    const unscoped = await api.as(reader).get(`${base}/not-yet-here/upstreaming?${V}`);
    expectSwaggerValid(NPM_SPEC, 'UpstreamingBehavior', unscoped.body, { exact: true });
    expect(unscoped.body.versionsFromExternalUpstreams).toBe('allowExternalVersions');
    const projectRoute = `/contoso/web/_apis/packaging/feeds/web-feed/npm/packages/@contoso/lib/upstreaming?${V}`;
    expect((await api.as(bob).patch(projectRoute, { versionsFromExternalUpstreams: 'allowExternalVersions' })).status).toBe(403);
    expect((await api.as(alice).patch(projectRoute, { versionsFromExternalUpstreams: 'allowExternalVersions' })).status).toBe(200);
    const projectRead = await api.as(bob).get(projectRoute);
    expectSwaggerValid(NPM_SPEC, 'UpstreamingBehavior', projectRead.body, { exact: true });
    expect(projectRead.body.versionsFromExternalUpstreams).toBe('allowExternalVersions');
    // Setting the same value again changes nothing and is not audited.
    expect((await api.as(alice).patch(`${base}/not-yet-here/upstreaming?${V}`, { versionsFromExternalUpstreams: 'allowExternalVersions' })).status).toBe(200);

    const events = (await drainAudit()).filter((event) => event.actionId === 'Packaging.UpstreamBehaviorUpdateEvent');
    expect(events).toHaveLength(3);
    expect(events[0]).toMatchObject({
      area: 'Packaging',
      category: 'modify',
      organizationName: 'contoso',
      actor: { id: 'b0b00000-0000-4000-8000-00000000000b' },
      data: { FeedName: 'main', PackageName: '@contoso/lib', Protocol: 'npm', PreviousBehavior: 'auto', NewBehavior: 'allowExternalVersions' },
    });
    expect(events[2]).toMatchObject({ projectName: 'web', data: { FeedName: 'web-feed' } });
  });

  it('refuses bad input and callers who do not administer the feed', async () => {
    const denied = await api.as(dave).patch(`${base}/@contoso/lib/upstreaming?${V}`, { versionsFromExternalUpstreams: 'auto' });
    expect(denied.status).toBe(403);
    expect(denied.body.code).toBe('feedPermissionDenied');
    const writeScope = await env.userToken('alice@contoso.com', { scopes: ['vso.packaging_write'] });
    expect((await api.as(writeScope).patch(`${base}/@contoso/lib/upstreaming?${V}`, { versionsFromExternalUpstreams: 'auto' })).body.code).toBe(
      'insufficientScope',
    );
    expect((await api.as(alice).patch(`${base}/@contoso/lib/upstreaming?${V}`, { versionsFromExternalUpstreams: 'sometimes' })).status).toBe(400);
    expect((await api.as(alice).get(`${base}/..%2f..%2fx/upstreaming?${V}`)).body.code).toBe('invalidPackageName');
    expect((await api.as(alice).get(`${base}/@a%20b/lib/upstreaming?${V}`)).body.code).toBe('invalidPackageName');
    expect((await api.as(alice).get(`${base}/lib/upstreaming?api-version=5.0`)).body.code).toBe('unsupportedApiVersion');
    expect((await api.as(alice).get(`/contoso/_apis/packaging/feeds/nope/npm/packages/lib/upstreaming?${V}`)).body.code).toBe('feedNotFound');
    expect((await api.get(`${base}/lib/upstreaming?${V}`)).status).toBe(401);
  });
});
