import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv, type ValidateFunction } from 'ajv';
import addFormatsModule from 'ajv-formats';

/**
 * Validates values against a definition of an official Azure DevOps Swagger 2.0 file (copied
 * unchanged into test/fixtures/ado-specs). With `exact`, properties the definition does not
 * declare are errors too, so responses are held to exactly the published shape.
 */
const SPEC_ROOT = join(import.meta.dirname, '..', 'fixtures', 'ado-specs');

type Json = Record<string, unknown>;
const addFormats = addFormatsModule as unknown as (ajv: Ajv) => Ajv;

function loadSpec(relativePath: string): Json {
  return JSON.parse(readFileSync(join(SPEC_ROOT, relativePath), 'utf8').replace(/^\uFEFF/, '')) as Json;
}

/** Swagger 2.0 cannot say "nullable", yet Azure DevOps returns null for absent values (its examples do). */
function nullable(schema: Json): Json {
  if (typeof schema.$ref === 'string') return { anyOf: [schema, { type: 'null' }] };
  if (typeof schema.type === 'string')
    return { ...schema, type: [schema.type, 'null'], ...(schema.enum ? { enum: [...(schema.enum as unknown[]), null] } : {}) };
  return schema;
}

function prepare(schema: unknown, exact: boolean): unknown {
  if (Array.isArray(schema)) return schema.map((item) => prepare(item, exact));
  if (!schema || typeof schema !== 'object') return schema;
  const copy: Json = {};
  for (const [key, value] of Object.entries(schema as Json)) {
    if (key === 'properties' && value && typeof value === 'object') {
      copy.properties = Object.fromEntries(Object.entries(value as Json).map(([name, property]) => [name, nullable(prepare(property, exact) as Json)]));
    } else {
      copy[key] = prepare(value, exact);
    }
  }
  if (exact && copy.properties && copy.additionalProperties === undefined) copy.additionalProperties = false;
  return copy;
}

const cache = new Map<string, ValidateFunction>();

export function swaggerValidator(specPath: string, definition: string, options: { exact?: boolean } = {}): ValidateFunction {
  const key = `${specPath}#${definition}#${options.exact ? 'exact' : 'open'}`;
  const cached = cache.get(key);
  if (cached) return cached;
  const spec = loadSpec(specPath);
  const definitions = prepare(spec.definitions, options.exact ?? false) as Json;
  const ajv = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(ajv);
  ajv.addFormat('int32', { type: 'number', validate: (n: number) => Number.isInteger(n) && Math.abs(n) <= 2 ** 31 });
  ajv.addFormat('int64', { type: 'number', validate: (n: number) => Number.isInteger(n) });
  ajv.addFormat('double', { type: 'number', validate: () => true });
  ajv.addSchema({ $id: 'spec', definitions });
  const validate = ajv.compile({ $ref: `spec#/definitions/${definition}` });
  cache.set(key, validate);
  return validate;
}

/** Throws with the validation errors when the value does not match the definition. */
export function expectSwaggerValid(specPath: string, definition: string, value: unknown, options: { exact?: boolean } = {}): void {
  const validate = swaggerValidator(specPath, definition, options);
  if (!validate(value)) {
    throw new Error(
      `${definition} (${specPath}) validation failed: ${JSON.stringify(validate.errors, null, 2)}\nvalue: ${JSON.stringify(value).slice(0, 2000)}`,
    );
  }
}
