import { readFile, writeFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { LocalNpmRegistry, packPackages, runNpm, tempDir, type NpmRun } from '../helpers/npm.js';
import { TABLES } from '../../shared/storage/names.js';
import { packagePartition } from '../../shared/packaging/store.js';

/**
 * The npm CLI itself against a Gatehouse feed whose public upstream is a local registry: publish,
 * view and install through the feed, and the upstream behavior rule as npm sees it.
 */

let env: TestEnvironment;
const api = client(() => env);
let upstream: LocalNpmRegistry;
let work: string;
let registryUrl: string;
let userconfig: string;
let feedId: string;
let adminToken: string;
const started = Date.now();

const FEEDS = '/contoso/_apis/packaging/feeds?api-version=7.1';

async function npm(args: string[], cwd = work, config = userconfig): Promise<NpmRun> {
  return runNpm(
    [
      ...args,
      '--userconfig',
      config,
      '--globalconfig',
      join(work, 'global-npmrc'),
      '--cache',
      join(work, 'cache'),
      '--registry',
      registryUrl,
      '--no-audit',
      '--no-fund',
      '--prefer-online',
      '--no-update-notifier',
    ],
    { cwd, home: work },
  );
}

const ok = (run: NpmRun) => {
  expect(run.code, `${run.stdout}\n${run.stderr}`).toBe(0);
  return run;
};

/** Installs one spec into a fresh project and returns the installed version (or the failed run). */
async function install(spec: string): Promise<{ version: string | undefined; run: NpmRun }> {
  const dir = await tempDir('consumer');
  await writeFile(join(dir, 'package.json'), JSON.stringify({ name: 'consumer', version: '1.0.0', private: true }));
  const run = await npm(['install', spec, '--no-package-lock'], dir);
  const name = spec.startsWith('@') ? `@${spec.slice(1).split('@')[0]}` : spec.split('@')[0]!;
  if (run.code !== 0) return { version: undefined, run };
  const manifest = JSON.parse(await readFile(join(dir, 'node_modules', name, 'package.json'), 'utf8')) as { version: string };
  return { version: manifest.version, run };
}

async function viewVersions(name: string): Promise<string[]> {
  const run = ok(await npm(['view', name, 'versions', '--json']));
  const parsed = JSON.parse(run.stdout) as string[] | string;
  return Array.isArray(parsed) ? parsed : [parsed];
}

async function setBehavior(path: string, value: string): Promise<void> {
  const response = await api.as(adminToken).patch(`/contoso/_apis/packaging/feeds/${feedId}/npm/packages/${path}/upstreaming?api-version=7.1`, {
    versionsFromExternalUpstreams: value,
  });
  expect(response.status, response.text).toBe(200);
}

async function origins(name: string): Promise<Record<string, string>> {
  const rows: Record<string, string> = {};
  const partition = packagePartition(feedId, name);
  for await (const row of env.app.storage.table(TABLES.npmPackages).listEntities<{ version: string; origin: string }>({
    queryOptions: { filter: `PartitionKey eq '${partition}' and RowKey ge 'v_' and RowKey lt 'v\`'` },
  }))
    rows[row.version] = row.origin;
  return rows;
}

beforeAll(async () => {
  work = await tempDir('npm-cli');
  await writeFile(join(work, 'global-npmrc'), '');
  // The "public" registry: a benign public package, and public packages borrowing internal names.
  upstream = new LocalNpmRegistry();
  upstream.add(
    ...(await packPackages(join(work, 'public'), [
      { name: 'is-thing', version: '1.0.0' },
      { name: 'is-thing', version: '1.1.0' },
      { name: 'acme-toolkit', version: '0.5.0' },
      { name: 'acme-toolkit', version: '5.0.0', description: 'not the real toolkit' },
      { name: '@contoso/widget', version: '2.0.0', description: 'not the real widget' },
    ])),
  );
  await upstream.start();
  env = await startTestEnvironment({ settings: { NPM_UPSTREAM_URL: upstream.url } });

  adminToken = await env.userToken('alice@contoso.com', { scopes: ['vso.packaging_manage', 'vso.pats_manage'] });
  const created = await api.as(adminToken).post(FEEDS, { name: 'shared', upstreamSources: [{ name: 'npmjs', protocol: 'npm', upstreamSourceType: 'public' }] });
  const feed = created.body as { id: string; npmRegistryUrl: string };
  expect(created.status, JSON.stringify(feed)).toBe(201);
  feedId = feed.id;
  registryUrl = feed.npmRegistryUrl;
  expect(registryUrl).toBe(`${env.url}/contoso/_packaging/shared/npm/registry/`);

  // A PAT made over the PAT API, as a developer would, for .npmrc.
  const patResponse = await api.as(adminToken).post('/contoso/_apis/tokens/pats?api-version=7.1-preview.1', {
    displayName: 'npm on my laptop',
    scope: 'vso.packaging_write',
    validTo: new Date(env.clock.now().getTime() + 7 * 86_400_000).toISOString(),
    allOrgs: false,
  });
  const pat = patResponse.body as { patToken: { token: string } };
  expect(patResponse.status, JSON.stringify(pat)).toBe(200);

  // Every registry npm could use is the feed: the default and the @contoso scope.
  const hostPath = registryUrl.replace(/^http:/, '');
  userconfig = join(work, 'npmrc');
  await writeFile(
    userconfig,
    [
      `registry=${registryUrl}`,
      `@contoso:registry=${registryUrl}`,
      `${hostPath}:_authToken=${pat.patToken.token}`,
      'update-notifier=false',
      'audit=false',
      'fund=false',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(work, 'npmrc-basic'),
    [`registry=${registryUrl}`, `${hostPath}:_auth=${Buffer.from(`alice:${pat.patToken.token}`).toString('base64')}`, ''].join('\n'),
  );
  await writeFile(join(work, 'npmrc-anonymous'), [`registry=${registryUrl}`, ''].join('\n'));
}, 120_000);

afterAll(async () => {
  await env?.stop();
  await upstream?.stop();
  // How long the whole npm CLI run took, for the record.
  console.log(`npm CLI feed test: ${((Date.now() - started) / 1000).toFixed(1)} s`);
});

describe('npm CLI against a Gatehouse feed', () => {
  it('installs public packages through the feed and saves them as external', async () => {
    const thing = await install('is-thing');
    expect(thing.version, thing.run.stderr).toBe('1.1.0');
    // Saved before any internal version exists: this one stays available whatever happens later.
    const early = await install('acme-toolkit@0.5.0');
    expect(early.version, early.run.stderr).toBe('0.5.0');
    expect(await origins('is-thing')).toEqual({ '1.1.0': 'external' });
    expect(await origins('acme-toolkit')).toEqual({ '0.5.0': 'external' });
  }, 180_000);

  it('publishes a scoped and an unscoped internal package with npm publish', async () => {
    const packages = [
      { name: '@contoso/widget', version: '1.0.0' },
      { name: '@contoso/widget', version: '1.1.0' },
      { name: 'acme-toolkit', version: '1.0.0' },
    ];
    for (const manifest of packages) {
      const dir = join(work, 'src', `${manifest.name.replace('/', '__')}-${manifest.version}`);
      await mkdir(dir, { recursive: true });
      await writeFile(join(dir, 'package.json'), JSON.stringify({ ...manifest, description: 'the real one', license: 'MIT', main: 'index.js' }));
      await writeFile(join(dir, 'index.js'), `module.exports = 'internal ${manifest.version}';\n`);
      // The public registry already has higher versions of both names (the very situation the rule is
      // for), so npm wants the tag named explicitly.
      ok(await npm(['publish', '--tag', 'latest'], dir));
    }
    expect(await origins('@contoso/widget')).toEqual({ '1.0.0': 'internal', '1.1.0': 'internal' });
    expect(await origins('acme-toolkit')).toEqual({ '0.5.0': 'external', '1.0.0': 'internal' });

    // Publishing the same version again is refused with a code npm shows.
    const again = await npm(['publish', '--tag', 'latest'], join(work, 'src', 'acme-toolkit-1.0.0'));
    expect(again.code).not.toBe(0);
    expect(again.stderr).toMatch(/409|packageVersionExists|cannot publish over/);
  }, 180_000);

  it('hides newer public versions of internal names from npm view and npm install', async () => {
    expect(await viewVersions('@contoso/widget')).toEqual(['1.0.0', '1.1.0']);
    expect(await viewVersions('acme-toolkit')).toEqual(['0.5.0', '1.0.0']);
    const view = ok(await npm(['view', '@contoso/widget', '--json']));
    const document = JSON.parse(view.stdout) as { 'dist-tags': Record<string, string>; dist: { tarball: string } };
    expect(document['dist-tags'].latest).toBe('1.1.0');
    expect(document.dist.tarball).toBe(`${registryUrl}@contoso/widget/-/widget-1.1.0.tgz`);

    expect((await install('@contoso/widget')).version).toBe('1.1.0');
    expect((await install('acme-toolkit')).version).toBe('1.0.0');
    const blocked = await install('@contoso/widget@2.0.0');
    expect(blocked.version).toBeUndefined();
    expect(blocked.run.stderr).toMatch(/ETARGET|No matching version/);
    expect((await install('acme-toolkit@^5.0.0')).version).toBeUndefined();
    // Saved before the rule applied: still installs.
    expect((await install('acme-toolkit@0.5.0')).version).toBe('0.5.0');
    // A public-only package is unaffected.
    expect((await install('is-thing@1.0.0')).version).toBe('1.0.0');
  }, 180_000);

  it('installs the public versions once the behavior is allowExternalVersions', async () => {
    await setBehavior('@contoso/widget', 'allowExternalVersions');
    await setBehavior('acme-toolkit', 'AllowExternalVersions');
    expect(await viewVersions('@contoso/widget')).toEqual(['1.0.0', '1.1.0', '2.0.0']);
    expect((await install('@contoso/widget@2.0.0')).version).toBe('2.0.0');
    expect((await install('acme-toolkit@5.0.0')).version).toBe('5.0.0');
    expect(await origins('acme-toolkit')).toEqual({ '0.5.0': 'external', '1.0.0': 'internal', '5.0.0': 'external' });

    // Back to auto: what was saved meanwhile stays available.
    await setBehavior('acme-toolkit', 'auto');
    expect(await viewVersions('acme-toolkit')).toEqual(['0.5.0', '1.0.0', '5.0.0']);
    expect((await install('acme-toolkit@5.0.0')).version).toBe('5.0.0');
  }, 180_000);

  it('takes the PAT as _auth (Basic) too, and refuses anonymous npm with an auth error', async () => {
    const basic = ok(await npm(['view', 'acme-toolkit', 'version'], work, join(work, 'npmrc-basic')));
    expect(basic.stdout.trim()).toBe('1.0.0');
    const whoami = ok(await npm(['whoami']));
    expect(whoami.stdout.trim()).toBe('alice@contoso.com');
    const anonymous = await npm(['view', 'acme-toolkit', 'version'], work, join(work, 'npmrc-anonymous'));
    expect(anonymous.code).not.toBe(0);
    expect(anonymous.stderr).toMatch(/E401|401/);
  }, 120_000);

  it('manages dist-tags with npm dist-tag', async () => {
    ok(await npm(['dist-tag', 'add', '@contoso/widget@1.0.0', 'stable']));
    const tags = ok(await npm(['dist-tag', 'ls', '@contoso/widget']));
    expect(tags.stdout).toMatch(/stable: 1\.0\.0/);
    expect((await install('@contoso/widget@stable')).version).toBe('1.0.0');
    ok(await npm(['dist-tag', 'rm', '@contoso/widget', 'stable']));
    expect(ok(await npm(['dist-tag', 'ls', '@contoso/widget'])).stdout).not.toMatch(/stable/);
  }, 120_000);

  it('never let npm talk to the upstream registry itself', () => {
    expect(upstream.requests.length).toBeGreaterThan(0);
    expect(upstream.requests.every((request) => request.userAgent === 'gatehouse-feeds')).toBe(true);
  });
});
