import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { LocalNpmRegistry, packPackages, tempDir } from '../helpers/npm.js';

/**
 * One npm read over a dense graph of internal upstream feeds (no cycle, so it is accepted): four
 * layers of three feeds, each upstreaming to every feed of the layer below, the last to the public
 * registry. Without bounds every path is walked: 3^4 resolutions and as many public registry calls.
 */
let env: TestEnvironment;
const api = client(() => env);
let upstream: LocalNpmRegistry;
let alice: string;
const LAYERS = ['l1', 'l2', 'l3', 'l4'] as const;
const WIDTH = 3;
const feedName = (layer: string, index: number) => `${layer}-${index}`;
const registry = (feed: string) => `/contoso/_packaging/${feed}/npm/registry`;

async function createFeed(name: string, upstreams?: readonly string[]) {
  return api.as(alice).post('/contoso/_apis/packaging/feeds?api-version=7.1', {
    name,
    ...(upstreams ? { upstreamSources: upstreams.map((feed) => ({ upstreamSourceType: 'internal', internalUpstreamFeedId: feed })) } : {}),
  });
}

const packumentCalls = () => upstream.requests.filter((request) => !request.url.includes('/-/')).length;

beforeAll(async () => {
  const [tarball] = await packPackages(join(await tempDir('fanout'), 'packages'), [{ name: 'fanout-lib', version: '1.0.0' }]);
  upstream = new LocalNpmRegistry();
  upstream.add(tarball!);
  await upstream.start();
  env = await startTestEnvironment({
    settings: { NPM_UPSTREAM_URL: upstream.url, NPM_MAX_FEEDS_PER_REQUEST: '10', NPM_MAX_UPSTREAM_GRAPH_FEEDS: '12' },
  });
  alice = await env.userToken('alice@contoso.com', { scopes: ['vso.packaging_manage'] });
  // Bottom-up: the last layer has the public registry (the default), each other layer every feed below it.
  for (const [depth, layer] of [...LAYERS].reverse().entries()) {
    const below = depth === 0 ? undefined : Array.from({ length: WIDTH }, (_, index) => feedName(LAYERS[LAYERS.length - depth]!, index));
    for (let index = 0; index < WIDTH; index += 1) {
      const created = await createFeed(feedName(layer, index), below);
      expect(created.status, created.text).toBe(201);
    }
  }
  const top = await createFeed(
    'top',
    Array.from({ length: WIDTH }, (_, index) => feedName('l1', index)),
  );
  expect(top.status, top.text).toBe(201);
}, 120_000);
afterAll(async () => {
  await env?.stop();
  await upstream?.stop();
});

describe('package reads over an upstream graph are bounded', () => {
  it('resolves each feed once per request: one public registry call instead of one per path', async () => {
    upstream.requests.length = 0;
    const read = await api.as(alice).get(`${registry('l1-0')}/fanout-lib`);
    expect(read.status, read.text).toBe(200);
    expect(Object.keys(read.body.versions)).toEqual(['1.0.0']);
    expect(packumentCalls()).toBe(1);
  });

  it('refuses a read that would resolve more feeds than the cap with 508 upstreamLimitExceeded', async () => {
    upstream.requests.length = 0;
    const read = await api.as(alice).get(`${registry('top')}/fanout-lib`);
    expect(read.status).toBe(508);
    expect(read.text).toContain('upstreamLimitExceeded');
    expect(packumentCalls()).toBeLessThanOrEqual(1);
  });

  it('refuses upstream sources whose graph is larger than configured', async () => {
    const over = await createFeed('over', ['top']);
    expect(over.status).toBe(400);
    expect(over.body.code).toBe('upstreamGraphTooLarge');
    expect((await createFeed('within', ['l1-0', 'l1-1'])).status).toBe(201);
    // Grown from the top down: a feed that is already an upstream of 'top' gets one more upstream, and
    // 'top' would then reach 13 feeds.
    const extra = await createFeed('extra');
    expect(extra.status).toBe(201);
    const grown = await api.as(alice).patch('/contoso/_apis/packaging/feeds/l4-0?api-version=7.1', {
      upstreamSources: [{ upstreamSourceType: 'public' }, { upstreamSourceType: 'internal', internalUpstreamFeedId: 'extra' }],
    });
    expect(grown.status, grown.text).toBe(400);
    expect(grown.body.code).toBe('upstreamGraphTooLarge');
    expect(grown.text).toContain("'top'");
  });

  it('stops the work when the client disconnects', async () => {
    upstream.requests.length = 0;
    upstream.delayMs = 600;
    try {
      const disconnect = new AbortController();
      const pending = env.fetch(`${registry('l2-0')}/fanout-lib/-/fanout-lib-1.0.0.tgz`, {
        headers: { authorization: `Bearer ${alice}` },
        signal: disconnect.signal,
      });
      setTimeout(() => disconnect.abort(), 200);
      await expect(pending).rejects.toThrow();
      await new Promise((resolve) => setTimeout(resolve, 2000));
      // The package document was already being read; the tarball is never asked for once the client has gone.
      expect(upstream.requests.map((request) => request.url.includes('/-/'))).toEqual([false]);
    } finally {
      upstream.delayMs = 0;
    }
  });
});
