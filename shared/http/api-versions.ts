import { badRequest } from './errors.js';

/**
 * The api-version range of one resource, as Azure DevOps publishes it in its resource locations:
 * every version from `min` to `max` is served, released (`7.1`) up to `released` and as a preview
 * (`7.2-preview`, `7.2-preview.1`) up to `max`, a preview's `.N` at most `resourceVersion`.
 * Versions are `major.minor`.
 */
export interface ApiVersionRange {
  readonly min: string;
  readonly max: string;
  /** The highest released version; absent while the resource is preview only. */
  readonly released?: string;
  readonly resourceVersion: number;
  /** Also answers requests that name no version (legacy resources such as connectionData). */
  readonly optional?: boolean;
}

/** The ranges of the route families that share one (Azure DevOps' own minimum where it has one). */
export const API_VERSIONS = {
  core: { min: '1.0', max: '7.2', released: '7.1', resourceVersion: 4 },
  memberEntitlements: { min: '4.1', max: '7.2', released: '7.1', resourceVersion: 4 },
  audit: { min: '5.1', max: '7.2', resourceVersion: 1 },
  pipelineGrants: { min: '7.1', max: '7.2', released: '7.1', resourceVersion: 1 },
  notifications: { min: '7.1', max: '7.2', released: '7.1', resourceVersion: 1 },
  location: { min: '1.0', max: '7.2', released: '7.1', resourceVersion: 1, optional: true },
  /** Gatehouse's own routes that callers reach without a version (token introspection, leak reports). */
  service: { min: '7.1', max: '7.2', released: '7.1', resourceVersion: 1, optional: true },
} as const satisfies Record<string, ApiVersionRange>;

interface ParsedVersion {
  readonly major: number;
  readonly minor: number;
  readonly preview: boolean;
  readonly stage: number | undefined;
}

const VERSION = /^(\d{1,3})\.(\d{1,3})(-preview(?:\.(\d{1,3}))?)?$/;

function parse(version: string): ParsedVersion | undefined {
  const match = VERSION.exec(version);
  if (!match) return undefined;
  return { major: Number(match[1]), minor: Number(match[2]), preview: Boolean(match[3]), stage: match[4] === undefined ? undefined : Number(match[4]) };
}

function compare(a: ParsedVersion, b: ParsedVersion): number {
  return a.major - b.major || a.minor - b.minor;
}

function parseBound(version: string): ParsedVersion {
  const parsed = parse(version);
  if (!parsed || parsed.preview) throw new Error(`invalid api-version bound '${version}'`);
  return parsed;
}

export function isApiVersionInRange(version: string, range: ApiVersionRange): boolean {
  const parsed = parse(version);
  if (!parsed) return false;
  if (compare(parsed, parseBound(range.min)) < 0 || compare(parsed, parseBound(range.max)) > 0) return false;
  if (parsed.preview) return parsed.stage === undefined || (parsed.stage >= 1 && parsed.stage <= range.resourceVersion);
  return range.released !== undefined && compare(parsed, parseBound(range.released)) <= 0;
}

/** The newest version a range serves: its maximum as a preview of the current resource version. */
export function latestApiVersion(range: ApiVersionRange): string {
  return `${range.max}-preview.${range.resourceVersion}`;
}

/** The range in words, for error messages and documentation. */
export function describeApiVersionRange(range: ApiVersionRange): string {
  const previews = `${range.min}-preview to ${range.max}-preview.${range.resourceVersion}`;
  if (!range.released) return `${previews} (previews only)`;
  return `${range.min} to ${range.released}, and ${previews}`;
}

/**
 * The api-version a request asks for: the query parameter, or when the query has none the
 * `api-version` parameter of the Accept header (`application/json;api-version=7.1-preview.1`), which
 * is how Azure DevOps' own client libraries send it.
 */
export function requestedApiVersion(queryValue: string | null | undefined, accept: string | null | undefined): string | undefined {
  if (queryValue !== null && queryValue !== undefined) return queryValue;
  if (!accept) return undefined;
  for (const mediaRange of accept.split(',')) {
    for (const parameter of mediaRange.split(';').slice(1)) {
      const separator = parameter.indexOf('=');
      if (separator < 0) continue;
      if (parameter.slice(0, separator).trim().toLowerCase() !== 'api-version') continue;
      return parameter
        .slice(separator + 1)
        .trim()
        .replace(/^"(.*)"$/, '$1');
    }
  }
  return undefined;
}

/** Throws the coded 400 when the version is missing or outside the range. */
export function checkApiVersion(given: string | undefined, range: ApiVersionRange): void {
  if (!given) {
    throw badRequest(
      'apiVersionRequired',
      `The api-version is required, in the query string or the Accept header. Supported versions: ${describeApiVersionRange(range)}.`,
    );
  }
  if (!isApiVersionInRange(given, range)) {
    throw badRequest(
      'unsupportedApiVersion',
      `The api-version '${given.slice(0, 40)}' is not supported. Supported versions: ${describeApiVersionRange(range)}.`,
    );
  }
}
