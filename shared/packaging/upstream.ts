import { createHash } from 'node:crypto';
import { z } from 'zod';
import type { AppContext } from '../app-context.js';
import { AppError } from '../http/errors.js';
import { guardedFetch, OutboundRefused, OutboundResponseTooLarge } from '../http/outbound.js';
import { isCanonicalVersion } from './npm-names.js';

/**
 * The public npm registry as an upstream source: packuments and tarballs fetched with a timeout and a
 * size limit, checked before use. Failures are UpstreamFailures (502 with a code and the cause).
 */

export class UpstreamFailure extends AppError {
  constructor(code: string, message: string) {
    super(502, code, message);
    this.name = 'UpstreamFailure';
  }
}

const distSchema = z
  .object({
    tarball: z.url(),
    integrity: z.string().max(2048).optional(),
    shasum: z
      .string()
      .regex(/^[0-9a-f]{40}$/i)
      .optional(),
  })
  .loose();

const versionSchema = z.looseObject({ name: z.string(), version: z.string(), dist: distSchema });

const packumentSchema = z
  .object({
    name: z.string(),
    versions: z.record(z.string(), z.unknown()).default({}),
    'dist-tags': z.record(z.string(), z.unknown()).default({}),
    time: z.record(z.string(), z.unknown()).default({}),
  })
  .loose();

export interface UpstreamVersion {
  readonly version: string;
  readonly manifest: Record<string, unknown>;
  readonly tarballUrl: string;
  /** A checksum the tarball must match: an SRI string (sha512 preferred) or a sha1 hex shasum. */
  readonly integrity: string | undefined;
  readonly shasum: string | undefined;
  readonly publishedAt: string | undefined;
}

export interface UpstreamPackument {
  readonly versions: ReadonlyMap<string, UpstreamVersion>;
  readonly distTags: Readonly<Record<string, string>>;
}

/** `@scope/name` → `@scope%2fname`, as npm requests it. */
export const encodePackagePath = (name: string): string => (name.startsWith('@') ? `@${encodeURIComponent(name.slice(1))}` : encodeURIComponent(name));

async function upstreamFetch(app: AppContext, url: string, accept: string, maxResponseBytes: number): Promise<Response> {
  const { upstreamTimeoutMs } = app.config.packaging;
  const host = new URL(url).host;
  try {
    return await guardedFetch(app, url, {
      headers: { accept, 'user-agent': 'gatehouse-feeds' },
      timeoutMs: upstreamTimeoutMs,
      maxResponseBytes,
    });
  } catch (error) {
    if (error instanceof OutboundRefused) {
      throw new UpstreamFailure('upstreamRefused', `The upstream registry ${host} is not a public address (${error.reason}).`);
    }
    const name = (error as { name?: string }).name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new UpstreamFailure('upstreamTimeout', `The upstream registry ${host} did not answer within ${upstreamTimeoutMs} ms.`);
    }
    const cause = (error as { cause?: { code?: string } }).cause?.code ?? (error as Error).message;
    throw new UpstreamFailure('upstreamUnreachable', `The upstream registry ${host} could not be reached (${String(cause).slice(0, 100)}).`);
  }
}

/** Reads a body up to `limit` bytes; a longer one (or a stalled one past the timeout) is a failure. */
async function readLimited(response: Response, limit: number, what: string): Promise<Buffer> {
  const declared = Number(response.headers.get('content-length') ?? '0');
  if (declared > limit) {
    await response.body?.cancel().catch(() => undefined);
    throw new UpstreamFailure('upstreamResponseTooLarge', `The upstream ${what} is larger than ${limit} bytes.`);
  }
  const chunks: Buffer[] = [];
  let size = 0;
  try {
    for await (const chunk of (response.body ?? []) as AsyncIterable<Uint8Array>) {
      size += chunk.length;
      if (size > limit) {
        await response.body?.cancel().catch(() => undefined);
        throw new UpstreamFailure('upstreamResponseTooLarge', `The upstream ${what} is larger than ${limit} bytes.`);
      }
      chunks.push(Buffer.from(chunk));
    }
  } catch (error) {
    if (error instanceof UpstreamFailure) throw error;
    if (error instanceof OutboundResponseTooLarge) {
      throw new UpstreamFailure('upstreamResponseTooLarge', `The upstream ${what} is larger than ${limit} bytes.`);
    }
    const name = (error as { name?: string }).name;
    if (name === 'TimeoutError' || name === 'AbortError') {
      throw new UpstreamFailure('upstreamTimeout', `The upstream registry did not finish sending the ${what} in time.`);
    }
    throw new UpstreamFailure('upstreamUnreachable', `Reading the upstream ${what} failed (${(error as Error).message.slice(0, 100)}).`);
  }
  return Buffer.concat(chunks);
}

/** The package document from the public registry; undefined when it does not have the package. */
export async function fetchPublicPackument(app: AppContext, name: string): Promise<UpstreamPackument | undefined> {
  const base = app.config.packaging.npmUpstreamUrl;
  const limit = app.config.packaging.maxUpstreamPackumentBytes;
  const response = await upstreamFetch(app, `${base}${encodePackagePath(name)}`, 'application/json', limit + 1);
  if (response.status === 404) {
    await response.body?.cancel().catch(() => undefined);
    return undefined;
  }
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new UpstreamFailure('upstreamError', `The upstream registry answered ${response.status} for ${name}.`);
  }
  const bytes = await readLimited(response, limit, 'package document');
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString('utf8'));
  } catch {
    throw new UpstreamFailure('upstreamInvalidResponse', `The upstream registry answered for ${name} with something that is not JSON.`);
  }
  const parsed = packumentSchema.safeParse(json);
  if (!parsed.success || parsed.data.name !== name) {
    throw new UpstreamFailure('upstreamInvalidResponse', `The upstream registry answered for ${name} with something that is not its package document.`);
  }
  const upstreamOrigin = new URL(base).origin;
  const versions = new Map<string, UpstreamVersion>();
  for (const [key, value] of Object.entries(parsed.data.versions)) {
    const version = versionSchema.safeParse(value);
    // Versions we could not serve safely are left out: wrong name, odd version, a tarball elsewhere,
    // or nothing to check the tarball against.
    if (!version.success || version.data.version !== key || version.data.name !== name || !isCanonicalVersion(key)) continue;
    const dist = version.data.dist;
    if (!dist.integrity && !dist.shasum) continue;
    if (new URL(dist.tarball).origin !== upstreamOrigin) continue;
    const time = parsed.data.time[key];
    const manifest = { ...version.data } as Record<string, unknown>;
    delete manifest.readme;
    versions.set(key, {
      version: key,
      manifest,
      tarballUrl: dist.tarball,
      integrity: dist.integrity,
      shasum: dist.shasum?.toLowerCase(),
      publishedAt: typeof time === 'string' ? time : undefined,
    });
  }
  const distTags: Record<string, string> = {};
  for (const [tag, version] of Object.entries(parsed.data['dist-tags'])) {
    if (typeof version === 'string' && versions.has(version)) distTags[tag] = version;
  }
  return { versions, distTags };
}

/** Does `tarball` match the SRI string / shasum the registry published? sha512 is used when present. */
export function matchesChecksum(tarball: Buffer, integrity: string | undefined, shasum: string | undefined): boolean {
  const entries = (integrity ?? '')
    .split(/\s+/)
    .map((item) => /^(sha512|sha384|sha256|sha1)-([A-Za-z0-9+/=]+)(?:\?.*)?$/.exec(item))
    .filter((match): match is RegExpExecArray => match !== null);
  const strongest = ['sha512', 'sha384', 'sha256', 'sha1'].find((algorithm) => entries.some((entry) => entry[1] === algorithm));
  if (strongest) {
    const digest = createHash(strongest).update(tarball).digest('base64');
    return entries.some((entry) => entry[1] === strongest && entry[2] === digest);
  }
  if (shasum) return createHash('sha1').update(tarball).digest('hex') === shasum.toLowerCase();
  return false;
}

/** Downloads a tarball from the public registry and checks it against the published checksum. */
export async function fetchPublicTarball(app: AppContext, name: string, version: UpstreamVersion): Promise<Buffer> {
  const response = await upstreamFetch(app, version.tarballUrl, 'application/octet-stream', app.config.packaging.maxTarballBytes + 1);
  if (!response.ok) {
    await response.body?.cancel().catch(() => undefined);
    throw new UpstreamFailure('upstreamError', `The upstream registry answered ${response.status} for the tarball of ${name}@${version.version}.`);
  }
  const tarball = await readLimited(response, app.config.packaging.maxTarballBytes, 'tarball');
  if (!matchesChecksum(tarball, version.integrity, version.shasum)) {
    throw new UpstreamFailure(
      'upstreamIntegrityMismatch',
      `The tarball of ${name}@${version.version} from the upstream registry does not match its published integrity; it was not saved.`,
    );
  }
  return tarball;
}
