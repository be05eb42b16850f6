import { brotliCompressSync, constants, gzipSync } from 'node:zlib';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { extname, join, relative, sep } from 'node:path';

/** The built portal (dist/web): every file held in memory with its compressed forms. */
export interface PortalAsset {
  readonly contentType: string;
  readonly identity: Buffer;
  readonly gzip: Buffer;
  readonly brotli: Buffer;
}

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json; charset=utf-8',
  '.txt': 'text/plain; charset=utf-8',
  '.woff2': 'font/woff2',
};

const COMPRESSIBLE = new Set(['.html', '.js', '.css', '.svg', '.json', '.txt']);

function walk(directory: string): string[] {
  return readdirSync(directory).flatMap((name) => {
    const path = join(directory, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

/** Reads the built portal; an empty map when it was not built (the API works without it). */
export function loadPortalAssets(directory: string): ReadonlyMap<string, PortalAsset> {
  const assets = new Map<string, PortalAsset>();
  let files: string[];
  try {
    files = walk(directory);
  } catch {
    return assets;
  }
  for (const file of files) {
    const extension = extname(file).toLowerCase();
    const contentType = CONTENT_TYPES[extension];
    if (!contentType || file.endsWith('.map')) continue;
    const identity = readFileSync(file);
    const compressible = COMPRESSIBLE.has(extension);
    assets.set(relative(directory, file).split(sep).join('/'), {
      contentType,
      identity,
      gzip: compressible ? gzipSync(identity, { level: 9 }) : identity,
      brotli: compressible ? brotliCompressSync(identity, { params: { [constants.BROTLI_PARAM_QUALITY]: 11 } }) : identity,
    });
  }
  return assets;
}

/** Picks the smallest encoding the client accepts. */
export function encodeFor(asset: PortalAsset, acceptEncoding: string | null): { body: Buffer; encoding: string | undefined } {
  const accepted = new Set((acceptEncoding ?? '').split(',').map((part) => part.split(';')[0]?.trim().toLowerCase()));
  if (accepted.has('br') && asset.brotli !== asset.identity) return { body: asset.brotli, encoding: 'br' };
  if (accepted.has('gzip') && asset.gzip !== asset.identity) return { body: asset.gzip, encoding: 'gzip' };
  return { body: asset.identity, encoding: undefined };
}
