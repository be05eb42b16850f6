import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import type { HttpDeclaration } from '../../shared/runtime/declarations.js';
import { generateToken } from '../../shared/tokens/format.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { latestApiVersion } from '../../shared/http/api-versions.js';

/**
 * Generated requests against every declared route: paths, query strings, headers and bodies.
 * `npm test` runs a small deterministic sample; `npm run test:fuzz` runs at least 10,000 with a
 * fresh seed (printed, so a failure can be replayed with FUZZ_SEED).
 */
const RUNS = Number(process.env.FUZZ_RUNS ?? 400);
const SEED = Number(process.env.FUZZ_SEED ?? (process.env.FUZZ_RUNS ? Date.now() % 2 ** 31 : 20261128));

const routes = declarations.filter((d): d is HttpDeclaration => d.kind === 'http' && !!d.doc);

let env: TestEnvironment;
let credentials: string[] = [];
beforeAll(async () => {
  env = await startTestEnvironment({ logLevel: 'warn' });
  credentials = [
    '',
    `Bearer ${await env.userToken('alice@contoso.com')}`,
    `Bearer ${await env.userToken('carol@contoso.com')}`,
    `Bearer ${await env.userToken('erin@fabrikam.com')}`,
    `Bearer ${await env.appToken('pipelines')}`,
    `Bearer ${await env.appToken('gitserver')}`,
    'Bearer gat_1_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA',
    `Basic ${Buffer.from('user:gat_1_notreallyatoken').toString('base64')}`,
    'Basic !!!',
    'Negotiate abc',
  ];
}, 60_000);
afterAll(async () => {
  await env?.stop();
});

/** Token-shaped text (a valid checksum, never issued): free text must redact it, never fail on it. */
const TOKEN_SHAPED = generateToken('1', '0f0f0f0f-0000-4000-8000-000000000000');
const DEEP_ARRAYS = `${'['.repeat(20_000)}${']'.repeat(20_000)}`;
const DEEP_OBJECT = `{"displayName":"x","nested":${'{"a":'.repeat(5_000)}1${'}'.repeat(5_000)}}`;

const weirdString = fc.oneof(
  fc.string({ maxLength: 40 }),
  fc.string({ unit: 'grapheme', maxLength: 20 }),
  fc.constantFrom('contoso', 'fabrikam', 'web', 'api', '..', '.', '%', '%2e%2e', 'admin', '_apis', '00000000-0000-0000-0000-000000000000', 'a'.repeat(300), '\u0000', '😀', TOKEN_SHAPED, `see ${TOKEN_SHAPED}`),
  fc.uuid(),
);

const requestArbitrary = fc
  .record({
    routeIndex: fc.nat({ max: routes.length - 1 }),
    methodChoice: fc.nat({ max: 20 }),
    paramSeed: fc.array(weirdString, { minLength: 6, maxLength: 6 }),
    versionChoice: fc.nat({ max: 9 }),
    otherVersion: fc.oneof(fc.constantFrom('7.1', '7.1-preview.1', '7.2-preview.1', '7.1-preview.3', '7.1-preview.4'), weirdString),
    query: fc.dictionary(fc.oneof(fc.constantFrom('$top', 'continuationToken', 'authorizationId', 'startTime', 'endTime', 'batchSize', 'filterValue', 'identityIds', 'format', 'isPublic', 'pageSize', 'displayFilterOption'), fc.string({ maxLength: 10 })), weirdString, { maxKeys: 4 }),
    credential: fc.nat({ max: 9 }),
    contentType: fc.constantFrom('application/json', 'application/json; charset=utf-8', 'text/plain', 'application/x-www-form-urlencoded', '', 'application/vnd+json'),
    body: fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 200 }),
      fc.constantFrom('{', '[]', 'null', '{"displayName":"x","scope":"app_token","validTo":"2099-01-01T00:00:00Z"}', '{"__proto__":{"admin":true}}', `{"name":"${'x'.repeat(5000)}"}`),
      fc.constantFrom(
        DEEP_ARRAYS,
        DEEP_OBJECT,
        `{"displayName":"deploy ${TOKEN_SHAPED}","scope":"vso.code","validTo":"2099-01-01T00:00:00Z"}`,
        `{"tokens":["${TOKEN_SHAPED}"],"url":"https://paste.example/${TOKEN_SHAPED}"}`,
        '{"gracePeriodMinutes":5}',
      ),
    ),
    extraHeader: fc.oneof(
      fc.constant(undefined),
      fc.record({ name: fc.constantFrom('if-match', 'idempotency-key', 'x-forwarded-for', 'accept', 'content-length-ignored'), value: fc.string({ maxLength: 60 }).map((v) => v.replace(/[^\x20-\x7e]/g, '')) }),
      fc.record({
        name: fc.constantFrom('x-forwarded-for', 'user-agent'),
        value: fc.constantFrom('203.0.113.7:50123', '[2001:db8::1]:443', 'garbage, ::ffff:10.0.0.1', 'unknown', '2130706433', '1.2.3.4, , 5.6.7.8', `curl/8 ${TOKEN_SHAPED}`, ','.repeat(200)),
      }),
    ),
  })
  .map((input) => {
    const declaration = routes[input.routeIndex]!;
    const methods = declaration.options.methods;
    const method = input.methodChoice < 16 ? methods[input.methodChoice % methods.length]! : (['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const)[input.methodChoice % 5]!;
    let seed = 0;
    const path = declaration.options.route.replace(/\{\*?([A-Za-z_]+)[^}]*\}/g, (_, name: string) => {
      const value = name === 'organization' && seed === 0 ? (input.paramSeed[0]!.length % 3 === 0 ? 'contoso' : input.paramSeed[0]!) : input.paramSeed[seed % 6]!;
      seed += 1;
      return encodeURIComponent(value);
    });
    const query = new URLSearchParams(input.query);
    // Mostly a version the route accepts, so requests get past the version check into the handler.
    const routeVersion = declaration.doc?.apiVersions && latestApiVersion(declaration.doc.apiVersions);
    const apiVersion = input.versionChoice < 7 ? routeVersion : input.versionChoice === 7 ? undefined : input.otherVersion;
    if (apiVersion !== undefined) query.set('api-version', apiVersion);
    return { ...input, method, path: `/${path}?${query.toString()}` };
  });

describe('fuzzing every route', () => {
  it(`never answers 5xx and always gives 4xx a code (${RUNS} requests, seed ${SEED})`, async () => {
    let requests = 0;
    const statuses = new Map<number, number>();
    await fc.assert(
      fc.asyncProperty(requestArbitrary, async (input) => {
        const headers: Record<string, string> = {};
        const credential = credentials[input.credential % credentials.length] ?? '';
        if (credential) headers.authorization = credential;
        if (input.contentType) headers['content-type'] = input.contentType;
        if (input.extraHeader) headers[input.extraHeader.name] = input.extraHeader.value;
        const hasBody = !['GET', 'HEAD'].includes(input.method);
        const response = await env.fetch(input.path, { method: input.method, headers, ...(hasBody ? { body: input.body } : {}) });
        const text = await response.text();
        requests += 1;
        statuses.set(response.status, (statuses.get(response.status) ?? 0) + 1);
        if (response.status >= 500) throw new Error(`${input.method} ${input.path} → ${response.status}: ${text.slice(0, 300)}`);
        if (response.status >= 400 && input.method !== 'HEAD') {
          // The standard error body carries `code`; the token envelopes carry `<kind>Error` (e.g. patTokenError).
          const body = JSON.parse(text) as Record<string, unknown>;
          const code = body.code ?? Object.entries(body).find(([key]) => key.endsWith('Error'))?.[1];
          if (typeof code !== 'string' || code.length === 0) throw new Error(`${input.method} ${input.path} → ${response.status} without a code: ${text.slice(0, 300)}`);
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    console.log(`fuzz: ${requests} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(requests).toBeGreaterThanOrEqual(RUNS);
    expect((await env.fetch('/health')).status).toBe(200);
  }, 600_000);
});
