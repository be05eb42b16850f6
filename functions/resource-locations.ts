import { z } from 'zod';
import { endpoint } from '../shared/http/endpoint.js';
import { API_VERSIONS } from '../shared/http/api-versions.js';
import { organizationParam } from '../shared/http/params.js';
import { areaLocations, resourceLocations, type ApiResourceLocation, type LocationLevel } from '../shared/http/locations.js';
import type { FunctionDeclaration, HttpDeclaration } from '../shared/runtime/declarations.js';

const locationSchema = z.object({
  id: z.string(),
  area: z.string(),
  resourceName: z.string(),
  routeTemplate: z.string(),
  resourceVersion: z.number(),
  minVersion: z.string(),
  maxVersion: z.string(),
  releasedVersion: z.string(),
});
const locationListSchema = z.object({ count: z.number(), value: z.array(locationSchema) });
const areaParam = z.object({ area: z.string() });

/**
 * Resource location discovery (`OPTIONS _apis`, `OPTIONS _apis/{area}`), which Azure DevOps' client
 * libraries ask before their first call: every resource the declarations serve at that level, built
 * from the declarations themselves. Anonymous and the same for every organization name, as it only
 * describes the service.
 */
function discovery(
  name: string,
  route: string,
  level: LocationLevel,
  declarations: () => readonly FunctionDeclaration[],
  params: z.ZodType<{ organization?: string; area?: string }>,
): HttpDeclaration {
  let locations: ApiResourceLocation[] | undefined;
  return endpoint({
    name,
    route,
    methods: ['OPTIONS'],
    summary: `The resource locations served ${level === 'organization' ? 'for an organization' : 'at the deployment level'}${route.endsWith('{area}') ? ' in one area (an unknown area has none)' : ''}, as Azure DevOps answers them.`,
    tags: ['Discovery'],
    access: { anonymous: true },
    params,
    responses: { 200: { description: 'ApiResourceLocation list.', schema: locationListSchema } },
    handler: async ({ params }) => {
      locations ??= resourceLocations(declarations(), level);
      const value = params.area === undefined ? locations : areaLocations(locations, params.area);
      return { body: { count: value.length, value } };
    },
  });
}

export function resourceLocationDeclarations(declarations: () => readonly FunctionDeclaration[]): HttpDeclaration[] {
  return [
    discovery('locations-organization', '{organization}/_apis', 'organization', declarations, organizationParam),
    discovery('locations-organization-area', '{organization}/_apis/{area}', 'organization', declarations, organizationParam.extend(areaParam.shape)),
    discovery('locations-deployment', '_apis', 'deployment', declarations, z.object({})),
    discovery('locations-deployment-area', '_apis/{area}', 'deployment', declarations, areaParam),
  ];
}

/**
 * `GET /{organization}/_apis/ResourceAreas`: the empty list, Azure DevOps Server's answer, so the
 * clients reach every area at the organization URL they were given. A non-empty list would send
 * Microsoft's Python client, for any area not in it, to Microsoft's global service with the
 * caller's Gatehouse credential.
 */
export const resourceAreasList = endpoint({
  name: 'resource-areas',
  route: '{organization}/_apis/ResourceAreas',
  location: { id: 'e81700f7-3be2-46de-8624-2eb35882fcaa', area: 'Location', resource: 'ResourceAreas' },
  methods: ['GET'],
  summary: 'Resource areas (always empty: every area is served at the organization URL).',
  tags: ['Discovery'],
  apiVersions: API_VERSIONS.location,
  access: { anonymous: true },
  params: organizationParam,
  responses: { 200: { description: 'An empty ResourceAreaInfo list.', schema: z.object({ count: z.literal(0), value: z.array(z.never()) }) } },
  handler: async () => ({ body: { count: 0, value: [] } }),
});
