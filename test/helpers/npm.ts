import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Test tools for npm feeds: real tarballs made with `npm pack`, a small local npm registry standing in
 * for the public one, and the npm CLI run against a Gatehouse feed with a throw-away configuration
 * that never reaches the real registry.
 */

export interface PackedTarball {
  readonly name: string;
  readonly version: string;
  readonly bytes: Buffer;
  readonly shasum: string;
  readonly integrity: string;
}

export interface NpmRun {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
}

/** The environment npm runs with: no proxies, no npm_config_* inherited from the test runner. */
function npmEnvironment(home: string): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {};
  for (const key of ['PATH', 'SystemRoot', 'TEMP', 'TMP', 'TMPDIR']) if (process.env[key]) env[key] = process.env[key];
  return { ...env, HOME: home, USERPROFILE: home, npm_config_update_notifier: 'false', NO_PROXY: '*', no_proxy: '*' };
}

export async function runNpm(args: readonly string[], options: { cwd: string; home: string; timeoutMs?: number }): Promise<NpmRun> {
  return new Promise((resolve, reject) => {
    const child = spawn('npm', [...args], { cwd: options.cwd, env: npmEnvironment(options.home), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString('utf8')));
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    const timer = setTimeout(() => child.kill('SIGKILL'), options.timeoutMs ?? 90_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code: code ?? -1, stdout, stderr });
    });
  });
}

export const tempDir = (prefix: string) => mkdtemp(join(tmpdir(), `gatehouse-${prefix}-`));

/** Writes a package directory (package.json, index.js, README) and returns its path. */
export async function writePackage(root: string, manifest: { name: string; version: string } & Record<string, unknown>): Promise<string> {
  const dir = join(root, `${manifest.name.replace('/', '__')}-${manifest.version}`);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, 'package.json'),
    JSON.stringify({ description: `${manifest.name} test package`, license: 'MIT', main: 'index.js', ...manifest }, null, 2),
  );
  await writeFile(join(dir, 'index.js'), `module.exports = ${JSON.stringify({ name: manifest.name, version: manifest.version })};\n`);
  await writeFile(join(dir, 'README.md'), `# ${manifest.name}\n`);
  return dir;
}

/** Packs package directories with `npm pack` (one call) into real tarballs. */
export async function packPackages(
  root: string,
  manifests: readonly ({ name: string; version: string } & Record<string, unknown>)[],
): Promise<PackedTarball[]> {
  const dirs = await Promise.all(manifests.map((manifest) => writePackage(root, manifest)));
  const out = join(root, 'packed');
  await mkdir(out, { recursive: true });
  const run = await runNpm(['pack', ...dirs, '--no-update-notifier', '--pack-destination', out, '--json', '--ignore-scripts', '--offline'], {
    cwd: root,
    home: root,
  });
  if (run.code !== 0) throw new Error(`npm pack failed: ${run.stderr}`);
  const packed = JSON.parse(run.stdout) as { name: string; version: string; filename: string }[];
  return Promise.all(
    packed.map(async (item) => {
      const bytes = await readFile(join(out, item.filename));
      return {
        name: item.name,
        version: item.version,
        bytes,
        shasum: createHash('sha1').update(bytes).digest('hex'),
        integrity: `sha512-${createHash('sha512').update(bytes).digest('base64')}`,
      };
    }),
  );
}

export type UpstreamMode = 'normal' | 'hang' | 'garbage' | 'error' | 'wrongTarball';

/** A small npm registry (the "public" upstream): packuments and tarballs from memory. */
export class LocalNpmRegistry {
  private server: Server | undefined;
  private readonly packages = new Map<string, PackedTarball[]>();
  private readonly modes = new Map<string, UpstreamMode>();
  readonly requests: { url: string; userAgent: string }[] = [];
  url = '';
  /** Every answer waits this long (a slow registry). */
  delayMs = 0;

  add(...tarballs: PackedTarball[]): void {
    for (const tarball of tarballs) this.packages.set(tarball.name, [...(this.packages.get(tarball.name) ?? []), tarball]);
  }

  /** How the registry answers for one package name ('normal' by default). */
  mode(name: string, mode: UpstreamMode): void {
    this.modes.set(name, mode);
  }

  async start(): Promise<void> {
    this.server = createServer((req, res) => this.handle(req, res));
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/`;
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.server?.close(() => resolve());
      this.server?.closeAllConnections();
    });
  }

  private handle(req: IncomingMessage, res: import('node:http').ServerResponse): void {
    this.requests.push({ url: req.url ?? '', userAgent: req.headers['user-agent'] ?? '' });
    if (this.delayMs > 0) {
      setTimeout(() => this.answer(req, res), this.delayMs);
      return;
    }
    this.answer(req, res);
  }

  private answer(req: IncomingMessage, res: import('node:http').ServerResponse): void {
    const path = decodeURIComponent(new URL(req.url ?? '/', this.url).pathname.slice(1));
    const tarballAt = path.indexOf('/-/');
    const name = tarballAt >= 0 ? path.slice(0, tarballAt) : path;
    const mode = this.modes.get(name) ?? 'normal';
    if (mode === 'hang') return; // never answers
    if (mode === 'error') {
      res.writeHead(500, { 'content-type': 'text/plain' }).end('upstream exploded');
      return;
    }
    if (mode === 'garbage' && tarballAt < 0) {
      res.writeHead(200, { 'content-type': 'application/json' }).end('<html>definitely not json');
      return;
    }
    const versions = this.packages.get(name);
    if (!versions) {
      res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"Not found"}');
      return;
    }
    if (tarballAt >= 0) {
      const file = path.slice(tarballAt + 3);
      const tarball = versions.find((item) => file === `${name.split('/').pop()}-${item.version}.tgz`);
      if (!tarball) {
        res.writeHead(404).end();
        return;
      }
      const bytes = mode === 'wrongTarball' ? Buffer.concat([tarball.bytes, Buffer.from('tampered')]) : tarball.bytes;
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': String(bytes.length) }).end(bytes);
      return;
    }
    const unscoped = name.split('/').pop();
    const document = {
      _id: name,
      name,
      'dist-tags': {
        latest: versions
          .map((item) => item.version)
          .sort()
          .at(-1),
      },
      versions: Object.fromEntries(
        versions.map((item) => [
          item.version,
          {
            name,
            version: item.version,
            description: `${name} from the public registry`,
            dist: { tarball: `${this.url}${name}/-/${unscoped}-${item.version}.tgz`, shasum: item.shasum, integrity: item.integrity },
          },
        ]),
      ),
      time: Object.fromEntries(versions.map((item, index) => [item.version, new Date(Date.UTC(2024, 0, index + 1)).toISOString()])),
    };
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(document));
  }
}
