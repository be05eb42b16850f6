import { z } from 'zod';
import { AppError, badRequest } from './errors.js';

/**
 * Rules every JSON request body follows, whatever its schema (readJsonBody applies them):
 * - nesting deeper than MAX_JSON_DEPTH is a 400 `jsonTooDeep` (npm manifests included), decided before
 *   anything recursive touches the value;
 * - a field the operation does not define is a 400 `invalidRequestBody` naming it. Schemas are strict
 *   objects; fields Azure DevOps' own model defines for the operation are declared (some as ignored,
 *   see docs/api.md), because its clients serialise whole models. Only foreign protocols whose clients
 *   send open documents (npm's publish document, RFC 7662 introspection) keep unknown members.
 */
export const MAX_JSON_DEPTH = 64;

/** True when `value` nests arrays/objects deeper than `max` (iterative: safe for any depth). */
export function nestsDeeperThan(value: unknown, max: number): boolean {
  const stack: { value: unknown; depth: number }[] = [{ value, depth: 0 }];
  for (let entry = stack.pop(); entry !== undefined; entry = stack.pop()) {
    const { value: current, depth } = entry;
    if (typeof current !== 'object' || current === null) continue;
    if (depth + 1 > max) return true;
    for (const item of Array.isArray(current) ? current : Object.values(current)) {
      if (typeof item === 'object' && item !== null) stack.push({ value: item, depth: depth + 1 });
    }
  }
  return false;
}

export function assertJsonDepth(value: unknown): void {
  if (nestsDeeperThan(value, MAX_JSON_DEPTH)) {
    throw badRequest('jsonTooDeep', `The request body nests deeper than ${MAX_JSON_DEPTH} levels.`);
  }
}

/** The 400 for fields the schema does not define, naming each (path included); undefined when there are none. */
export function unknownFieldError(error: z.ZodError): AppError | undefined {
  const fields = error.issues.flatMap((issue) =>
    issue.code === 'unrecognized_keys' ? issue.keys.map((key) => [...issue.path.map(String), key].join('.')) : [],
  );
  if (fields.length === 0) return undefined;
  const named = fields.slice(0, 10).map((field) => `'${field.slice(0, 64)}'`);
  return badRequest(
    'invalidRequestBody',
    `The request body has ${fields.length === 1 ? 'a field' : 'fields'} this operation does not define: ${named.join(', ')}.`,
    fields.slice(0, 50).map((field) => ({ path: field.slice(0, 128), message: 'unknown field' })),
  );
}

/** The body of an operation that takes none: absent, or an empty JSON object; any field is an unknown field. */
export const noRequestBody = z.object({}).strict().optional().describe('No body; an empty JSON object is accepted.');
