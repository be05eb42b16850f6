import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import type { HttpDeclaration } from '../shared/runtime/declarations.js';
import { getProject } from '../shared/directory/service.js';
import {
  canRead,
  createFeed,
  createFeedBody,
  FEED_API_VERSIONS,
  feedView,
  feedViewSchema,
  listFeeds,
  PACKAGING_ACCESS,
  resolveFeed,
  scopeBaseUrl,
  updateFeed,
  updateFeedBody,
} from '../shared/packaging/feeds.js';

/**
 * Feed management on Azure DevOps' paths: `/{organization}[/{project}]/_apis/packaging/feeds`.
 * Reading needs a packaging scope; creating and configuring needs `vso.packaging_manage` and feed
 * administration rights (Project Collection Administrators, the feed's owners, for project feeds the
 * project's administrators).
 */

const { read: readAccess, manage: manageAccess } = PACKAGING_ACCESS;

const scopes = [
  { suffix: '', route: '{organization}/_apis/packaging/feeds', where: 'the organization' },
  { suffix: '-project', route: '{organization}/{project}/_apis/packaging/feeds', where: 'a project' },
] as const;

/** Azure DevOps' feed management resource (`Packaging/Feeds`); one location serves both scopes. */
const location = { id: 'c65009a7-474a-4ad1-8b42-7d852107ef8c', area: 'Packaging', resource: 'Feeds' };

const listSchema = z.object({ count: z.number().int(), value: z.array(feedViewSchema) });
const scopeParams = z.object({ organization: z.string(), project: z.string().optional() });
const feedParams = scopeParams.extend({ feedId: z.string().max(64) });

export const packagingFeedDeclarations: HttpDeclaration[] = scopes.flatMap(({ suffix, route, where }) => [
  endpoint({
    name: `packaging-feeds-create${suffix}`,
    route,
    location,
    methods: ['POST'],
    summary: `Creates an npm feed in ${where}, with its ordered upstream sources (default: the public npm registry).`,
    tags: ['Packaging'],
    apiVersions: FEED_API_VERSIONS,
    access: manageAccess,
    params: scopeParams,
    body: createFeedBody,
    responses: {
      201: { description: 'The feed.', schema: feedViewSchema },
      400: { description: 'upstreamGraphTooLarge (when NPM_MAX_UPSTREAM_GRAPH_FEEDS is set), upstreamCycle, invalidRequestBody, …' },
      429: { description: 'creationRateLimited: too many feeds created by this identity recently (Retry-After).' },
    },
    handler: async (input) => {
      const { app, request, organization, params } = input;
      const project = params.project === undefined ? undefined : await getProject(app, organization, params.project);
      const feed = await createFeed(input, project, input.body);
      return { status: 201, body: await feedView(app, feed, project, scopeBaseUrl(request.url)) };
    },
  }),
  endpoint({
    name: `packaging-feeds-list${suffix}`,
    route,
    location,
    methods: ['GET'],
    summary: `The feeds of ${where} the caller may read.`,
    tags: ['Packaging'],
    apiVersions: FEED_API_VERSIONS,
    access: readAccess,
    params: scopeParams,
    responses: { 200: { description: 'The feeds.', schema: listSchema } },
    handler: async ({ app, request, caller, organization, params }) => {
      const project = params.project === undefined ? undefined : await getProject(app, organization, params.project);
      const feeds = (await listFeeds(app, organization.organization.id))
        .filter((feed) => feed.projectId === (project?.id ?? '') && canRead(feed, organization, caller))
        .sort((a, b) => a.name.localeCompare(b.name));
      const base = scopeBaseUrl(request.url);
      const value = await Promise.all(feeds.map((feed) => feedView(app, feed, project, base)));
      return { body: { count: value.length, value } };
    },
  }),
  endpoint({
    name: `packaging-feeds-get${suffix}`,
    route: `${route}/{feedId}`,
    location,
    methods: ['GET'],
    summary: 'A feed, by id or name.',
    tags: ['Packaging'],
    apiVersions: FEED_API_VERSIONS,
    access: readAccess,
    params: feedParams,
    responses: { 200: { description: 'The feed.', schema: feedViewSchema } },
    handler: async (input) => {
      const { feed, project } = await resolveFeed(input, input.params.project, input.params.feedId);
      return { body: await feedView(input.app, feed, project, scopeBaseUrl(input.request.url)) };
    },
  }),
  endpoint({
    name: `packaging-feeds-update${suffix}`,
    route: `${route}/{feedId}`,
    location,
    methods: ['PATCH'],
    summary: 'Changes a feed: description, upstream sources (the whole ordered list), owners, contributors.',
    tags: ['Packaging'],
    apiVersions: FEED_API_VERSIONS,
    access: manageAccess,
    params: feedParams,
    body: updateFeedBody,
    responses: {
      200: { description: 'The feed.', schema: feedViewSchema },
      400: { description: 'upstreamGraphTooLarge (when NPM_MAX_UPSTREAM_GRAPH_FEEDS is set), upstreamCycle, invalidRequestBody, …' },
    },
    handler: async (input) => {
      const { feed, project } = await resolveFeed(input, input.params.project, input.params.feedId, 'administer');
      const updated = await updateFeed(input, project, feed, input.body);
      return { body: await feedView(input.app, updated, project, scopeBaseUrl(input.request.url)) };
    },
  }),
]);
