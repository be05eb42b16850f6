import { createHash } from 'node:crypto';

/**
 * Repository links of a grant request. Submission accepts only links that can name a public
 * repository: https, a public DNS host (no IP literals, no private-network or reserved names), no
 * credentials, no port, and a path of at least owner/repository. Whether the host is on the
 * allow-list is a review rule (explained in the decision), not a submission error.
 */

export const MAX_LINK_LENGTH = 500;

/** Suffixes that never name a public host (RFC 6761/6762/8375 and common private-network names). */
const PRIVATE_SUFFIXES = [
  'localhost',
  'local',
  'localdomain',
  'internal',
  'intranet',
  'lan',
  'home',
  'corp',
  'private',
  'home.arpa',
  'arpa',
  'test',
  'example',
  'invalid',
  'onion',
];

const HOST_NAME = /^(?=.{1,253}$)(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/;
const IPV4_LITERAL = /^\d{1,3}(?:\.\d{1,3}){3}$/;

export interface RepositoryLink {
  /** The link as stored and shown: https URL without credentials, fragment or trailing slash. */
  readonly url: string;
  readonly host: string;
  /** Identifies the repository across requests (see repositoryIdentity). */
  readonly key: string;
}

/** Checks one link; answers the problem in words, or the parsed link. */
export function parseRepositoryLink(raw: string): { ok: true; link: RepositoryLink } | { ok: false; problem: string } {
  const fail = (problem: string) => ({ ok: false as const, problem });
  if (raw.length > MAX_LINK_LENGTH) return fail(`links have at most ${MAX_LINK_LENGTH} characters`);
  if (/[\s\u0000-\u001f\u007f]/.test(raw)) return fail('links may not contain spaces or control characters');
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return fail('is not a valid URL');
  }
  if (url.protocol !== 'https:') return fail('links must use https');
  if (url.username || url.password) return fail('links may not contain credentials');
  if (url.port) return fail('links may not name a port');
  const host = url.hostname.toLowerCase();
  // WHATWG URL parsing turns every IPv4 spelling (decimal, hex, octal) into dotted form.
  if (host.startsWith('[') || IPV4_LITERAL.test(host)) return fail('links must name a public host, not an IP address');
  if (!HOST_NAME.test(host)) return fail('links must name a public DNS host');
  if (PRIVATE_SUFFIXES.some((suffix) => host === suffix || host.endsWith(`.${suffix}`))) {
    return fail('links must name a public host, not a private-network name');
  }
  const segments = url.pathname.split('/').filter(Boolean);
  if (segments.length < 2) return fail('links must point at a repository (for example https://github.com/owner/repository)');
  const path = `/${segments.join('/')}`;
  const search = url.search;
  const identity = repositoryIdentity(host, segments);
  if (!identity) return fail('links must use valid percent-encoding and point at a repository');
  return {
    ok: true,
    link: {
      url: `https://${host}${path}${search}`,
      host,
      key: identity,
    },
  };
}

/** Path segments that start a view inside a repository (branches, files, commits), not a part of its name. */
const SUB_PATH_MARKERS = new Set([
  '-',
  'tree',
  'blob',
  'raw',
  'commits',
  'commit',
  'src',
  'branches',
  'tags',
  'releases',
  'issues',
  'pulls',
  'pull',
  'wiki',
  'actions',
  'log',
  'refs',
]);

/**
 * The repository a link names, as `host/owner/name` (GitLab groups and Azure DevOps `org/project/_git/repo`
 * keep their extra levels): segments percent-decoded and lower-cased, `www.` and a `.git` suffix
 * dropped, views inside the repository (`/tree/main`, `/-/blob/...`) cut off. Two spellings of one
 * repository give one identity; undefined for malformed encoding or a path that names no repository.
 */
export function repositoryIdentity(host: string, rawSegments: readonly string[]): string | undefined {
  let segments: string[];
  try {
    segments = rawSegments.map((segment) => decodeURIComponent(segment).toLowerCase());
  } catch {
    return undefined;
  }
  if (segments.some((segment) => segment === '' || segment === '.' || segment === '..' || segment.includes('/'))) return undefined;
  const bareHost = host.toLowerCase().replace(/^www\./, '');
  let kept: string[];
  if (bareHost === 'dev.azure.com' || bareHost.endsWith('.visualstudio.com')) {
    const git = segments.indexOf('_git');
    kept = git >= 0 ? segments.slice(0, git + 2) : segments.slice(0, 2);
  } else if (bareHost === 'gitlab.com') {
    const marker = segments.findIndex((segment) => SUB_PATH_MARKERS.has(segment));
    kept = marker >= 0 ? segments.slice(0, marker) : segments;
  } else {
    kept = segments.slice(0, 2);
  }
  const last = kept.length - 1;
  kept = kept.map((segment, i) => (i === last ? segment.replace(/\.git$/, '') : segment));
  if (kept.length < 2 || kept.some((segment) => segment === '')) return undefined;
  return `${bareHost}/${kept.join('/')}`;
}

/** A table-key-safe digest of a repository key or an email address. */
export function keyDigest(value: string): string {
  return createHash('sha256').update(value.toLowerCase(), 'utf8').digest('hex').slice(0, 40);
}
