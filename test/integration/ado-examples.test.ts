import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';
import { createPat } from '../helpers/http.js';
import { BOB } from '../helpers/demo.js';
import { expectSwaggerValid } from '../helpers/swagger.js';
import { subjectDescriptor } from '../../shared/auth/caller.js';

/**
 * Replays every HTTP example of the official Swagger files (test/fixtures/ado-specs, unchanged
 * copies) with its own api-version, method, path and body, and checks the status and the answer's
 * shape against the operation's response schema in that Swagger. Only values that name records of
 * Microsoft's demo organization (authorization ids, a user descriptor) are swapped for real ones;
 * the clock stands at the examples' date so their expiry dates are in the future.
 */
const SPEC_ROOT = join(import.meta.dirname, '..', 'fixtures', 'ado-specs');

type Json = Record<string, any>;
const readJson = (path: string): Json => JSON.parse(readFileSync(path, 'utf8').replace(/^\uFEFF/, '')) as Json;

function filesUnder(folder: string): string[] {
  return readdirSync(folder, { withFileTypes: true }).flatMap((entry) =>
    entry.isDirectory() ? filesUnder(join(folder, entry.name)) : entry.name.endsWith('.json') ? [join(folder, entry.name)] : [],
  );
}

interface Example {
  readonly file: string;
  readonly spec: string;
  readonly example: Json;
  /** The operation that references the example, when one does (matched case-insensitively). */
  readonly operation: { method: string; path: string; schema: Json | undefined } | undefined;
}

function loadExamples(): Example[] {
  const examples: Example[] = [];
  for (const specPath of filesUnder(SPEC_ROOT).filter((file) => !file.includes('httpExamples'))) {
    const folder = join(specPath, '..', 'httpExamples');
    let exampleFiles: string[];
    try {
      exampleFiles = filesUnder(folder);
    } catch {
      continue;
    }
    const spec = readJson(specPath);
    for (const file of exampleFiles) {
      const relativePath = `./${relative(join(specPath, '..'), file)}`.toLowerCase();
      let operation: Example['operation'];
      for (const [path, operations] of Object.entries(spec.paths as Json)) {
        for (const [method, definition] of Object.entries(operations as Json)) {
          const refs = Object.values((definition as Json)['x-ms-examples'] ?? {}).map((ref) => String((ref as Json).$ref).toLowerCase());
          if (refs.includes(relativePath)) {
            const success = Object.entries((definition as Json).responses as Json).find(([status]) => status.startsWith('2'));
            operation = { method: method.toUpperCase(), path, schema: success?.[1]?.schema };
          }
        }
      }
      examples.push({ file: relative(SPEC_ROOT, file), spec: relative(SPEC_ROOT, specPath), example: readJson(file), operation });
    }
  }
  return examples;
}

const examples = loadExamples();

/** Audit streams are not part of Gatehouse (events stay in its own store); their examples must stay unserved. */
const NOT_SERVED = /audit\/7\.2\/httpExamples\/streams\//;

let env: TestEnvironment;
const api = client(() => env);
let bearer: string;
let adminPat: string;
/** Alice's PATs: [0] for get and revoke, [1] for update, [2..4] for the token admin revocation. */
const patIds: string[] = [];

beforeAll(async () => {
  env = await startTestEnvironment({ now: '2020-11-02T22:00:00.000Z' });
  bearer = await env.userToken('alice@contoso.com');
  adminPat = (await createPat(env, { token: bearer }, { scope: 'vso.auditlog vso.tokenadministration', validTo: '2020-11-30T00:00:00.000Z' })).token;
  env.issuedSecrets.add(adminPat);
  for (let i = 0; i < 5; i += 1) {
    const pat = await createPat(env, { token: bearer }, { scope: 'vso.analytics', validTo: '2020-11-30T00:00:00.000Z' });
    env.issuedSecrets.add(pat.token);
    patIds.push(pat.authorizationId);
  }
});

afterAll(async () => {
  await env?.stop();
});

/** The example's request, with Microsoft's demo records swapped for Gatehouse's. */
function requestOf({ example, operation }: Example): { method: string; path: string; body: unknown; apiVersion: string } {
  const parameters = (example.parameters ?? {}) as Json;
  const method = String(example['x-ms-vss-request-method'] ?? operation?.method);
  const url = example['x-ms-vss-request-url'] ? new URL(String(example['x-ms-vss-request-url'])) : undefined;
  let path = url ? url.pathname : String(operation?.path);
  path = path.replace('/fabrikam/', '/contoso/').replace('{organization}', 'contoso');
  path = path.replace(/\/msa\.[A-Za-z0-9]+/, `/${subjectDescriptor('user', BOB.id)}`);
  const query = new URLSearchParams(url?.search ?? '');
  if (!url) {
    for (const [name, value] of Object.entries(parameters)) {
      if (!['body', 'api-version', 'organization', 'account'].includes(name)) query.set(name, String(value));
    }
  }
  if (query.has('authorizationId')) query.set('authorizationId', patIds[0]!);
  // Examples without one were generated for the spec's own version.
  const apiVersion = String(parameters['api-version'] ?? query.get('api-version') ?? '7.2-preview.1');
  query.set('api-version', apiVersion);
  let body = parameters.body;
  if (body && !Array.isArray(body) && typeof body === 'object' && 'authorizationId' in body) body = { ...body, authorizationId: patIds[1] };
  // The token admin revocation example revokes its own PATs, not the ones the PAT examples read.
  if (Array.isArray(body)) body = body.map((_, index) => ({ authorizationId: patIds[2 + (index % 3)] }));
  return { method, path: `${path}?${query.toString()}`, body, apiVersion };
}

describe("Microsoft's HTTP examples, replayed", () => {
  it('covers every example file', () => {
    expect(examples.length).toBe(17);
    expect(examples.filter((example) => !example.operation && !example.example['x-ms-vss-request-url'])).toEqual([]);
  });

  it.each(examples.filter((example) => !NOT_SERVED.test(example.file)).map((example) => [example.file, example] as const))('%s', async (_, example) => {
    const { method, path, body, apiVersion } = requestOf(example);
    const viaPat = !path.toLowerCase().includes('/_apis/tokens/');
    const caller = viaPat ? api.withAuthorization(`Basic ${Buffer.from(`:${adminPat}`).toString('base64')}`) : api.as(bearer);
    const reply = await caller.request(method, path, { body });
    const expected = Number(Object.keys(example.example.responses as Json)[0]);
    expect(reply.status, `${method} ${path} (${apiVersion}): ${reply.text.slice(0, 300)}`).toBe(expected);
    const schema = example.operation?.schema ?? (method === 'GET' && /\/tokens\/pats\?/i.test(path) ? { $ref: '#/definitions/PagedPatTokens' } : undefined);
    if (schema?.$ref) {
      expectSwaggerValid(example.spec, String(schema.$ref).split('/').pop()!, reply.body);
    } else if (schema?.type === 'array') {
      expect(reply.body.count).toBe(reply.body.value.length);
      for (const item of reply.body.value) expectSwaggerValid(example.spec, String(schema.items.$ref).split('/').pop()!, item);
    } else if (schema?.format === 'Stream') {
      expect(reply.headers.get('content-type')).toBe('application/octet-stream');
    } else {
      expect(reply.text).toBe('');
    }
  });

  it.each(examples.filter((example) => NOT_SERVED.test(example.file)).map((example) => [example.file, example] as const))(
    '%s is not served',
    async (_, example) => {
      const { method, path, body } = requestOf(example);
      const reply = await api.withAuthorization(`Basic ${Buffer.from(`:${adminPat}`).toString('base64')}`).request(method, path, { body });
      expect(reply.status).toBe(404);
      expect(reply.body.code).toBe('routeNotFound');
    },
  );
});
