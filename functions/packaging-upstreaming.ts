import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import type { HttpDeclaration } from '../shared/runtime/declarations.js';
import { PACKAGING_ACCESS, resolveFeed, UPSTREAMING_API_VERSIONS } from '../shared/packaging/feeds.js';
import { packageNameFromRoute } from '../shared/packaging/npm-names.js';
import { readBehavior, setBehavior, upstreamingBehaviorBody, upstreamingBehaviorSchema } from '../shared/packaging/registry.js';

/**
 * The npm upstreaming behavior API, as Azure DevOps (`GetUpstreamingBehavior` /
 * `SetUpstreamingBehavior` and their scoped twins), with and without `{project}`. Reading needs
 * `vso.packaging`; setting needs `vso.packaging_manage` and feed administration rights, returns 200
 * without a body and is audited (Packaging.UpstreamBehaviorUpdateEvent).
 */

const routes = [
  { suffix: '', route: '{organization}/_apis/packaging/feeds/{feedId}/npm/packages/{packageName}/upstreaming' },
  { suffix: '-scoped', route: '{organization}/_apis/packaging/feeds/{feedId}/npm/packages/@{packageScope}/{unscopedPackageName}/upstreaming' },
  { suffix: '-project', route: '{organization}/{project}/_apis/packaging/feeds/{feedId}/npm/packages/{packageName}/upstreaming' },
  {
    suffix: '-project-scoped',
    route: '{organization}/{project}/_apis/packaging/feeds/{feedId}/npm/packages/@{packageScope}/{unscopedPackageName}/upstreaming',
  },
] as const;

const params = z.object({
  organization: z.string(),
  project: z.string().optional(),
  feedId: z.string().max(64),
  packageName: z.string().max(214).optional(),
  packageScope: z.string().max(214).optional(),
  unscopedPackageName: z.string().max(214).optional(),
});

/** Azure DevOps' npm upstreaming resources: one location for unscoped packages, one for scoped ones. */
const locationOf = (route: string) =>
  route.includes('@{packageScope}')
    ? { id: '9859c187-f6ec-41b0-862d-8003b3b404e0', area: 'npm', resource: 'upstreaming' }
    : { id: 'e27a45d3-711b-41cb-a47a-ae669b6e9076', area: 'npm', resource: 'upstreaming' };

export const npmUpstreamingDeclarations: HttpDeclaration[] = routes.flatMap(({ suffix, route }) => [
  endpoint({
    name: `npm-upstreaming-get${suffix}`,
    route,
    location: locationOf(route),
    methods: ['GET'],
    summary: 'The upstreaming behavior of an npm package in a feed.',
    tags: ['Packaging'],
    apiVersions: UPSTREAMING_API_VERSIONS,
    access: PACKAGING_ACCESS.read,
    params,
    responses: { 200: { description: 'The behavior (UpstreamingBehavior).', schema: upstreamingBehaviorSchema } },
    handler: async (input) => {
      const name = packageNameFromRoute(input.params);
      const { feed } = await resolveFeed(input, input.params.project, input.params.feedId);
      return { body: await readBehavior(input.app, feed, name) };
    },
  }),
  endpoint({
    name: `npm-upstreaming-set${suffix}`,
    route,
    location: locationOf(route),
    methods: ['PATCH'],
    summary: "Sets an npm package's upstreaming behavior in a feed (also before the feed holds the package).",
    tags: ['Packaging'],
    apiVersions: UPSTREAMING_API_VERSIONS,
    access: PACKAGING_ACCESS.manage,
    params,
    body: upstreamingBehaviorBody,
    responses: { 200: { description: 'Set (no body).' } },
    handler: async (input) => {
      const name = packageNameFromRoute(input.params);
      const resolved = await resolveFeed(input, input.params.project, input.params.feedId, 'administer');
      await setBehavior(input, resolved, name, input.body.versionsFromExternalUpstreams);
      return { status: 200 };
    },
  }),
]);
