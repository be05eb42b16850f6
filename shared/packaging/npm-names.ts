import semver from 'semver';
import validateNpmPackageName from 'validate-npm-package-name';
import { badRequest } from '../http/errors.js';

/** An npm package name split into its parts; `scope` is without the `@`. */
export interface NpmPackageName {
  readonly name: string;
  readonly scope: string | undefined;
  readonly unscoped: string;
}

const MAX_NAME_LENGTH = 214;
const MAX_VERSION_LENGTH = 256;

/**
 * Checks a package name with npm's own rules (validate-npm-package-name). Reads accept the legacy
 * names still on the public registry (capitals, for example); publishing needs a name valid for new
 * packages. Anything that could act as a path (`..`, `\`, empty segments) is refused either way.
 */
export function parseNpmPackageName(raw: string, use: 'read' | 'publish' = 'read'): NpmPackageName {
  const invalid = (why: string) => badRequest('invalidPackageName', `'${raw.slice(0, 100)}' is not a valid npm package name: ${why}.`);
  if (raw.length === 0 || raw.length > MAX_NAME_LENGTH) throw invalid(`names have 1 to ${MAX_NAME_LENGTH} characters`);
  if (/[\\\u0000-\u001f\u007f]/.test(raw) || raw.split('/').some((part) => part === '' || part === '.' || part === '..')) {
    throw invalid('it contains path characters');
  }
  const result = validateNpmPackageName(raw);
  const valid = use === 'publish' ? result.validForNewPackages : result.validForOldPackages;
  if (!valid) throw invalid([...(result.errors ?? []), ...(result.warnings ?? [])].join('; ') || 'rejected');
  const scoped = /^@([^/]+)\/([^/]+)$/.exec(raw);
  if (raw.startsWith('@') && !scoped) throw invalid('a scoped name is @scope/name');
  return { name: raw, scope: scoped?.[1], unscoped: scoped?.[2] ?? raw };
}

/** The name from the behavior API's route values (`{packageName}` or `@{packageScope}/{unscopedPackageName}`). */
export function packageNameFromRoute(params: { packageName?: string; packageScope?: string; unscopedPackageName?: string }): NpmPackageName {
  const raw = params.packageName ?? `@${params.packageScope ?? ''}/${params.unscopedPackageName ?? ''}`;
  return parseNpmPackageName(raw);
}

/** A canonical semantic version (`1.2.3`, `1.2.3-beta.1`; npm drops build metadata when it normalizes). */
export function parseNpmVersion(raw: string): string {
  if (raw.length === 0 || raw.length > MAX_VERSION_LENGTH || semver.valid(raw) !== raw) {
    throw badRequest('invalidPackageVersion', `'${raw.slice(0, 100)}' is not a valid semantic version.`);
  }
  return raw;
}

export const isCanonicalVersion = (raw: string): boolean => raw.length <= MAX_VERSION_LENGTH && semver.valid(raw) === raw;

/** Dist-tags may not look like versions or ranges (npm's rule), nor carry path characters. */
export function parseDistTag(raw: string): string {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/.test(raw) || semver.validRange(raw) !== null) {
    throw badRequest('invalidDistTag', `'${raw.slice(0, 100)}' is not a valid dist-tag (tags cannot look like versions or ranges).`);
  }
  return raw;
}

/** The tarball file name npm uses: `<unscoped name>-<version>.tgz`. */
export const tarballFileName = (name: NpmPackageName, version: string): string => `${name.unscoped}-${version}.tgz`;

/** Sorts versions by semantic version precedence, lowest first. */
export const sortVersions = (versions: Iterable<string>): string[] => [...versions].sort(semver.compare);

/** The version `latest` falls back to: the highest release, or the highest prerelease when there is none. */
export function highestVersion(versions: Iterable<string>): string | undefined {
  const sorted = sortVersions(versions);
  const releases = sorted.filter((version) => semver.prerelease(version) === null);
  return (releases.length > 0 ? releases : sorted).at(-1);
}
