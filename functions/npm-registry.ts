import { z } from 'zod';
import { endpoint, readJsonBody } from '../shared/http/endpoint.js';
import type { OrganizationScope } from '../shared/request-scope.js';
import type { HttpDeclaration } from '../shared/runtime/declarations.js';
import { PACKAGING_ACCESS, resolveFeed, type Feed } from '../shared/packaging/feeds.js';
import { parseNpmPackageName } from '../shared/packaging/npm-names.js';
import { distTagTarget, readTarget, registryRequest, takePackageName } from '../shared/packaging/paths.js';
import {
  obtainVersion,
  packageRead,
  packument,
  publishBody,
  publishVersion,
  removeDistTag,
  requirePackage,
  setDistTag,
  type FeedTarget,
  versionFromTarballFile,
} from '../shared/packaging/registry.js';
import { streamTarball } from '../shared/packaging/store.js';
import { clientSignalOf } from '../shared/http/cancellation.js';
import { badRequest } from '../shared/http/errors.js';

/**
 * The npm registry protocol of a feed, at `/{organization}[/{project}]/_packaging/{feed}/npm/registry/`:
 * packuments (`/{name}`, `/@scope%2fname`), tarballs (`/{name}/-/{file}.tgz`), `npm publish` (PUT),
 * dist-tags (`/-/package/{name}/dist-tags[/{tag}]`), `/-/ping` and `/-/whoami`. Callers authenticate
 * with a Gatehouse PAT from .npmrc (`_authToken` → Bearer, `_auth` → Basic) or an Entra ID token;
 * reads need `vso.packaging`, writes `vso.packaging_write`. Anonymous requests get a 401 with
 * `WWW-Authenticate`, which npm reports as an authentication error.
 */

const { read: readAccess, write: writeAccess } = PACKAGING_ACCESS;

const params = z.object({ organization: z.string(), project: z.string().optional(), feed: z.string().max(64), path: z.string().optional() });
type Params = z.infer<typeof params>;

const scopes = [
  { suffix: '', base: '{organization}/_packaging/{feed}/npm/registry' },
  { suffix: '-project', base: '{organization}/{project}/_packaging/{feed}/npm/registry' },
] as const;

const json = (body: unknown, status = 200) => ({ status, body, contentType: 'application/json' });

async function readableFeed(input: OrganizationScope & { readonly params: Params }): Promise<Feed> {
  const { feed } = await resolveFeed(input, input.params.project, input.params.feed, 'read');
  return feed;
}

/** The feed a write goes to, with its project (for the change's audit event). */
const publishTarget = (input: OrganizationScope & { readonly params: Params }): Promise<FeedTarget> =>
  resolveFeed(input, input.params.project, input.params.feed, 'publish');

export const npmRegistryDeclarations: HttpDeclaration[] = scopes.flatMap(({ suffix, base }) => [
  endpoint({
    name: `npm-registry-read${suffix}`,
    route: `${base}/{*path}`,
    methods: ['GET'],
    summary: 'npm registry reads: package documents (merged with upstream sources, after the upstream behavior rule) and tarballs.',
    tags: ['Packaging'],
    access: readAccess,
    params,
    errorEnvelope: 'npmRegistry',
    responses: {
      200: { description: 'A packument or a tarball.' },
      508: {
        description:
          'upstreamLimitExceeded: the read would resolve more feeds (NPM_MAX_FEEDS_PER_REQUEST) or make more upstream calls (NPM_MAX_UPSTREAM_CALLS_PER_REQUEST) than allowed.',
      },
    },
    handler: async (input) => {
      const { registryUrl, segments } = registryRequest(input.request.url);
      const target = readTarget(segments);
      const feed = await readableFeed(input);
      const read = packageRead(input.app, clientSignalOf(input.request));
      switch (target.kind) {
        case 'ping':
          return json({});
        case 'whoami':
          return json({ username: input.caller.email });
        case 'packument': {
          const view = await requirePackage(read, feed, target.name);
          return json(packument(view, registryUrl));
        }
        case 'tarball': {
          const version = versionFromTarballFile(target.name, target.file);
          const saved = await obtainVersion(read, feed, target.name, version);
          const { stream, size } = await streamTarball(input.app, saved.blobName);
          return { stream, contentType: 'application/octet-stream', headers: size > 0 ? { 'Content-Length': String(size) } : undefined };
        }
      }
    },
  }),
  endpoint({
    name: `npm-registry-publish${suffix}`,
    route: `${base}/{*path}`,
    methods: ['PUT'],
    summary: '`npm publish`: a new version with its tarball, checked against its shasum and integrity; audited as `Artifacts.Package.Publish`.',
    tags: ['Packaging'],
    access: writeAccess,
    params,
    maxBodyBytes: (config) => config.packaging.maxPublishBytes,
    errorEnvelope: 'npmRegistry',
    responses: {
      201: { description: 'Published.' },
      411: { description: 'lengthRequired: a publish body over 1 MiB must declare its Content-Length.' },
      413: { description: 'requestBodyTooLarge (over NPM_MAX_PUBLISH_BYTES, decided before reading) or packageTooLarge.' },
    },
    handler: async (input) => {
      const { segments } = registryRequest(input.request.url);
      const { name, rest } = takePackageName(segments);
      if (rest.length > 0) throw badRequest('invalidPublishRequest', 'Publish to the package URL (`PUT /{name}`).');
      parseNpmPackageName(name.name, 'publish');
      const target = await publishTarget(input);
      // The body (a base64 tarball) is read only once the caller may publish to this feed.
      const body = await readJsonBody(input.request, publishBody, input.app.config.packaging.maxPublishBytes);
      const version = await publishVersion(input, target, name, body);
      return json({ success: true, id: name.name, version }, 201);
    },
  }),
  endpoint({
    name: `npm-dist-tags-read${suffix}`,
    route: `${base}/-/package/{*path}`,
    methods: ['GET'],
    summary: "A package's dist-tags in the feed.",
    tags: ['Packaging'],
    access: readAccess,
    params,
    errorEnvelope: 'npmRegistry',
    responses: { 200: { description: 'The dist-tags.' } },
    handler: async (input) => {
      const target = distTagTarget(registryRequest(input.request.url).segments);
      if (target.tag !== undefined) throw badRequest('invalidDistTag', 'Read all dist-tags at /-/package/{name}/dist-tags.');
      const view = await requirePackage(packageRead(input.app, clientSignalOf(input.request)), await readableFeed(input), target.name);
      return json(view.distTags);
    },
  }),
  endpoint({
    name: `npm-dist-tags-set${suffix}`,
    route: `${base}/-/package/{*path}`,
    methods: ['PUT'],
    summary:
      '`npm dist-tag add`: points a tag at a version the feed offers; audited as `Artifacts.Package.DistTag.Add` (or `.Move`). A tag already at that version changes nothing.',
    tags: ['Packaging'],
    access: writeAccess,
    params,
    errorEnvelope: 'npmRegistry',
    responses: { 201: { description: 'Set.' } },
    handler: async (input) => {
      const target = distTagTarget(registryRequest(input.request.url).segments);
      if (target.tag === undefined) throw badRequest('invalidDistTag', 'Name the tag: /-/package/{name}/dist-tags/{tag}.');
      const feed = await publishTarget(input);
      const version = await readJsonBody(input.request, z.string().max(256), input.app.config.maxRequestBodyBytes);
      await setDistTag(input, feed, target.name, target.tag, version);
      return json({ ok: true }, 201);
    },
  }),
  endpoint({
    name: `npm-dist-tags-remove${suffix}`,
    route: `${base}/-/package/{*path}`,
    methods: ['DELETE'],
    summary: '`npm dist-tag rm`: removes a tag (not `latest`); audited as `Artifacts.Package.DistTag.Remove`.',
    tags: ['Packaging'],
    access: writeAccess,
    params,
    errorEnvelope: 'npmRegistry',
    responses: { 200: { description: 'Removed.' } },
    handler: async (input) => {
      const target = distTagTarget(registryRequest(input.request.url).segments);
      if (target.tag === undefined) throw badRequest('invalidDistTag', 'Name the tag: /-/package/{name}/dist-tags/{tag}.');
      await removeDistTag(input, await publishTarget(input), target.name, target.tag);
      return json({ ok: true });
    },
  }),
]);
