import { badRequest, notFound } from '../http/errors.js';
import { parseNpmPackageName, type NpmPackageName } from './npm-names.js';

/**
 * Paths under `/{organization}[/{project}]/_packaging/{feed}/npm/registry/`. They are taken from the
 * request URL itself (not the catch-all route value), so `@scope%2fname` and `@scope/name` read the
 * same on every host, whatever it decodes.
 */

const MARKER = '/npm/registry';

export interface RegistryRequest {
  /** The registry URL npm was pointed at, ending with '/'. */
  readonly registryUrl: string;
  /** The decoded path segments after it; a `%2f` inside a segment splits it. */
  readonly segments: readonly string[];
}

export function registryRequest(requestUrl: string): RegistryRequest {
  const url = new URL(requestUrl);
  const lower = url.pathname.toLowerCase();
  const packaging = lower.indexOf('/_packaging/');
  const at = lower.indexOf(MARKER, packaging < 0 ? 0 : packaging);
  if (at < 0) throw notFound('routeNotFound', 'No API is registered at this path.');
  const registryUrl = `${url.origin}${url.pathname.slice(0, at + MARKER.length)}/`;
  const rest = url.pathname.slice(at + MARKER.length);
  let segments: string[];
  try {
    segments = rest
      .split('/')
      .filter((part) => part.length > 0)
      .flatMap((part) => decodeURIComponent(part).split('/'));
  } catch {
    throw badRequest('invalidPath', 'The request path is not valid URL encoding.');
  }
  return { registryUrl, segments };
}

/** Reads a package name from the front of `segments` (one segment, or `@scope` and a name). */
export function takePackageName(segments: readonly string[]): { name: NpmPackageName; rest: string[] } {
  const [first, second] = segments;
  if (first === undefined) throw notFound('packageNotFound', 'No package name was given.');
  if (first.startsWith('@')) {
    if (second === undefined) throw badRequest('invalidPackageName', `'${first.slice(0, 100)}' is not a valid npm package name: a scoped name is @scope/name.`);
    return { name: parseNpmPackageName(`${first}/${second}`), rest: segments.slice(2) };
  }
  return { name: parseNpmPackageName(first), rest: segments.slice(1) };
}

export type RegistryTarget =
  { kind: 'ping' } | { kind: 'whoami' } | { kind: 'packument'; name: NpmPackageName } | { kind: 'tarball'; name: NpmPackageName; file: string };

/** What a GET under the registry asks for. */
export function readTarget(segments: readonly string[]): RegistryTarget {
  if (segments[0] === '-') {
    if (segments.length === 2 && segments[1] === 'ping') return { kind: 'ping' };
    if (segments.length === 2 && segments[1] === 'whoami') return { kind: 'whoami' };
    throw notFound('routeNotFound', 'This registry endpoint is not supported.');
  }
  const { name, rest } = takePackageName(segments);
  if (rest.length === 0) return { kind: 'packument', name };
  if (rest.length === 2 && rest[0] === '-' && rest[1]) return { kind: 'tarball', name, file: rest[1] };
  throw notFound('routeNotFound', 'This registry endpoint is not supported.');
}

/** `-/package/<name>/dist-tags[/<tag>]`. */
export function distTagTarget(segments: readonly string[]): { name: NpmPackageName; tag: string | undefined } {
  if (segments[0] !== '-' || segments[1] !== 'package') throw notFound('routeNotFound', 'This registry endpoint is not supported.');
  const { name, rest } = takePackageName(segments.slice(2));
  if (rest[0] !== 'dist-tags' || rest.length > 2) throw notFound('routeNotFound', 'This registry endpoint is not supported.');
  return { name, tag: rest[1] };
}
