import type { ApiVersionRange } from './api-versions.js';
import type { FunctionDeclaration } from '../runtime/declarations.js';

/**
 * The Azure DevOps resource location a route serves: Microsoft's location id where Azure DevOps has
 * the resource (the clients look resources up by it), Gatehouse's own id otherwise.
 */
export interface ResourceLocation {
  readonly id: string;
  readonly area: string;
  readonly resource: string;
  /**
   * The route template relative to the organization, when it must name route values differently
   * from the route (Azure DevOps' clients fill in `projectId`, Gatehouse's route says `project`).
   * Otherwise it is generated from the routes.
   */
  readonly routeTemplate?: string;
}

/** Azure DevOps' ApiResourceLocation, as `OPTIONS _apis` answers it. */
export interface ApiResourceLocation {
  readonly id: string;
  readonly area: string;
  readonly resourceName: string;
  readonly routeTemplate: string;
  readonly resourceVersion: number;
  readonly minVersion: string;
  readonly maxVersion: string;
  readonly releasedVersion: string;
}

/** Organization routes sit under `/{organization}/`, deployment routes directly under `/_apis/`. */
export type LocationLevel = 'organization' | 'deployment';

const ORGANIZATION_PREFIX = '{organization}/';

interface Served {
  readonly location: ResourceLocation;
  readonly versions: ApiVersionRange;
  readonly template: string;
}

function servedAt(declarations: readonly FunctionDeclaration[], level: LocationLevel): Served[] {
  const served: Served[] = [];
  for (const declaration of declarations) {
    if (declaration.kind !== 'http' || !declaration.doc?.location) continue;
    const { route, location, apiVersions } = declaration.doc;
    if (!apiVersions) throw new Error(`${declaration.name} names a resource location but no api-version range`);
    const atOrganization = route.toLowerCase().startsWith(ORGANIZATION_PREFIX);
    if (atOrganization !== (level === 'organization')) continue;
    served.push({ location, versions: apiVersions, template: atOrganization ? route.slice(ORGANIZATION_PREFIX.length) : route });
  }
  return served;
}

const parameterCount = (template: string) => (template.match(/\{/g) ?? []).length;

/**
 * The resource locations of one level, generated from the route declarations: one entry per
 * location id, whose route template is the declaration's route with the most route values (the
 * clients leave out the values they do not have, so `{project}/_apis/packaging/feeds/{feedId}` also
 * reaches the organization's feeds). Declarations sharing an id must agree on area, resource and range.
 */
export function resourceLocations(declarations: readonly FunctionDeclaration[], level: LocationLevel): ApiResourceLocation[] {
  const byId = new Map<string, Served>();
  for (const served of servedAt(declarations, level)) {
    const id = served.location.id.toLowerCase();
    const known = byId.get(id);
    if (!known) {
      byId.set(id, served);
      continue;
    }
    if (
      known.location.area !== served.location.area ||
      known.location.resource !== served.location.resource ||
      known.location.routeTemplate !== served.location.routeTemplate ||
      JSON.stringify(known.versions) !== JSON.stringify(served.versions)
    ) {
      throw new Error(`resource location ${id} is declared with different areas, resources or api-version ranges`);
    }
    const more = parameterCount(served.template) - parameterCount(known.template);
    if (more > 0 || (more === 0 && served.template.length > known.template.length)) byId.set(id, served);
  }
  return [...byId.values()]
    .map(({ location, versions, template }) => ({
      id: location.id.toLowerCase(),
      area: location.area,
      resourceName: location.resource,
      routeTemplate: location.routeTemplate ?? template,
      resourceVersion: versions.resourceVersion,
      minVersion: versions.min,
      maxVersion: versions.max,
      releasedVersion: versions.released ?? '0.0',
    }))
    .sort((a, b) => a.area.localeCompare(b.area) || a.resourceName.localeCompare(b.resourceName) || a.id.localeCompare(b.id));
}

/** The locations of one area (matched case-insensitively); an unknown area has none. */
export function areaLocations(locations: readonly ApiResourceLocation[], area: string): ApiResourceLocation[] {
  const wanted = area.toLowerCase();
  return locations.filter((location) => location.area.toLowerCase() === wanted);
}
