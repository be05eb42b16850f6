import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Readers for what tools/bicep/run.sh writes to .bicep/out/: the compiled ARM templates
 * (`bicep build`) and the offline deployment snapshot (`bicep snapshot`), which is the compiled
 * template evaluated with test/infra/snapshot.bicepparam: every resource the deployment would
 * create, with names, loops and parameters resolved. Values known only while deploying stay as
 * ARM expressions, e.g. "[reference('<id>', '<api>').clientId]".
 */

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const OUT = join(ROOT, '.bicep', 'out');

export interface ArmParameter {
  type: string;
  defaultValue?: unknown;
  allowedValues?: unknown[];
  minLength?: number;
  maxLength?: number;
  minValue?: number;
  maxValue?: number;
  metadata?: { description?: string; [key: string]: unknown };
}

export interface ArmOutput {
  type: string;
  value: unknown;
  metadata?: { description?: string };
}

export interface ArmTemplate {
  $schema: string;
  parameters?: Record<string, ArmParameter>;
  variables?: Record<string, unknown>;
  resources: unknown[] | Record<string, unknown>;
  outputs?: Record<string, ArmOutput>;
}

export interface PredictedResource {
  id: string;
  type: string;
  name: string;
  apiVersion: string;
  location?: string;
  kind?: string;
  sku?: Record<string, unknown>;
  identity?: { type: string; userAssignedIdentities?: Record<string, unknown> };
  tags?: Record<string, string>;
  properties?: Record<string, unknown>;
}

export interface Snapshot {
  predictedResources: PredictedResource[];
  diagnostics: unknown[];
  outputs?: Record<string, unknown>;
}

export function readJson(path: string): unknown {
  if (!existsSync(path)) {
    throw new Error(`${path} is missing: run the infrastructure tests with \`npm run test:infra\``);
  }
  return JSON.parse(readFileSync(path, 'utf8'));
}

export const loadTemplate = (relativePath = 'main.json'): ArmTemplate => readJson(join(OUT, relativePath)) as ArmTemplate;
export const loadSnapshot = (): Snapshot => readJson(join(OUT, 'snapshot.snapshot.json')) as Snapshot;

export function resourcesOfType(snapshot: Snapshot, type: string): PredictedResource[] {
  return snapshot.predictedResources.filter((resource) => resource.type.toLowerCase() === type.toLowerCase());
}

export function single(snapshot: Snapshot, type: string): PredictedResource {
  const found = resourcesOfType(snapshot, type);
  if (found.length !== 1) throw new Error(`expected exactly one ${type}, found ${found.length}`);
  return found[0] as PredictedResource;
}

/** The last segment of a child resource name ("st123/default/users" -> "users"). */
export const leafName = (resource: PredictedResource): string => resource.name.split('/').at(-1) ?? '';

/** A property path, e.g. prop(site, 'siteConfig', 'minTlsVersion'). */
export function prop(resource: PredictedResource, ...path: string[]): unknown {
  let value: unknown = resource.properties;
  for (const key of path) {
    if (value === null || typeof value !== 'object') return undefined;
    value = (value as Record<string, unknown>)[key];
  }
  return value;
}

/** ARM's guid(): a name-based (SHA-1, version 5) UUID of the arguments joined with '-'. */
export function armGuid(...parts: string[]): string {
  const namespace = Buffer.from('11fb06fb712d4ddd98c7e71bbd588830', 'hex');
  const hash = createHash('sha1')
    .update(Buffer.concat([namespace, Buffer.from(parts.join('-'), 'utf8')]))
    .digest()
    .subarray(0, 16);
  hash[6] = ((hash[6] ?? 0) & 0x0f) | 0x50;
  hash[8] = ((hash[8] ?? 0) & 0x3f) | 0x80;
  const hex = hash.toString('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The literal `param name = 'value'` assignments of test/infra/snapshot.bicepparam. */
export function snapshotFixture(): Record<string, string> {
  const text = readFileSync(join(ROOT, 'test', 'infra', 'snapshot.bicepparam'), 'utf8');
  const values: Record<string, string> = {};
  for (const match of text.matchAll(/^param (\w+) = '([^']*)'$/gm)) {
    values[match[1] ?? ''] = match[2] ?? '';
  }
  return values;
}
