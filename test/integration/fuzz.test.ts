import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import type { HttpDeclaration } from '../../shared/runtime/declarations.js';
import { generateToken } from '../../shared/secrets/format.js';
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
  fc.constantFrom(
    'contoso',
    'fabrikam',
    'web',
    'api',
    '..',
    '.',
    '%',
    '%2e%2e',
    'admin',
    '_apis',
    '00000000-0000-0000-0000-000000000000',
    'a'.repeat(300),
    '\u0000',
    '😀',
    TOKEN_SHAPED,
    `see ${TOKEN_SHAPED}`,
  ),
  fc.uuid(),
);

const requestArbitrary = fc
  .record({
    routeIndex: fc.nat({ max: routes.length - 1 }),
    methodChoice: fc.nat({ max: 20 }),
    paramSeed: fc.array(weirdString, { minLength: 6, maxLength: 6 }),
    versionChoice: fc.nat({ max: 9 }),
    otherVersion: fc.oneof(fc.constantFrom('7.1', '7.1-preview.1', '7.2-preview.1', '7.1-preview.3', '7.1-preview.4'), weirdString),
    query: fc.dictionary(
      fc.oneof(
        fc.constantFrom(
          '$top',
          'continuationToken',
          'authorizationId',
          'startTime',
          'endTime',
          'batchSize',
          'filterValue',
          'identityIds',
          'format',
          'isPublic',
          'pageSize',
          'displayFilterOption',
        ),
        fc.string({ maxLength: 10 }),
      ),
      weirdString,
      { maxKeys: 4 },
    ),
    credential: fc.nat({ max: 9 }),
    contentType: fc.constantFrom(
      'application/json',
      'application/json; charset=utf-8',
      'text/plain',
      'application/x-www-form-urlencoded',
      '',
      'application/vnd+json',
    ),
    body: fc.oneof(
      fc.json({ maxDepth: 3 }),
      fc.string({ maxLength: 200 }),
      fc.constantFrom(
        '{',
        '[]',
        'null',
        '{"displayName":"x","scope":"app_token","validTo":"2099-01-01T00:00:00Z"}',
        '{"__proto__":{"admin":true}}',
        `{"name":"${'x'.repeat(5000)}"}`,
      ),
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
      fc.record({
        name: fc.constantFrom('if-match', 'idempotency-key', 'x-forwarded-for', 'accept', 'content-length-ignored'),
        value: fc.string({ maxLength: 60 }).map((v) => v.replace(/[^\x20-\x7e]/g, '')),
      }),
      fc.record({
        name: fc.constantFrom('x-forwarded-for', 'user-agent'),
        value: fc.constantFrom(
          '203.0.113.7:50123',
          '[2001:db8::1]:443',
          'garbage, ::ffff:10.0.0.1',
          'unknown',
          '2130706433',
          '1.2.3.4, , 5.6.7.8',
          `curl/8 ${TOKEN_SHAPED}`,
          ','.repeat(200),
        ),
      }),
    ),
  })
  .map((input) => {
    const declaration = routes[input.routeIndex]!;
    const methods = declaration.options.methods;
    const method =
      input.methodChoice < 16 ? methods[input.methodChoice % methods.length]! : (['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const)[input.methodChoice % 5]!;
    let seed = 0;
    const path = declaration.options.route.replace(/\{\*?([A-Za-z_]+)[^}]*\}/g, (_, name: string) => {
      const value =
        name === 'organization' && seed === 0 ? (input.paramSeed[0]!.length % 3 === 0 ? 'contoso' : input.paramSeed[0]!) : input.paramSeed[seed % 6]!;
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
          if (typeof code !== 'string' || code.length === 0)
            throw new Error(`${input.method} ${input.path} → ${response.status} without a code: ${text.slice(0, 300)}`);
        }
      }),
      { numRuns: RUNS, seed: SEED, endOnFailure: true },
    );
    console.log(`fuzz: ${requests} requests, statuses ${JSON.stringify(Object.fromEntries(statuses))}`);
    expect(requests).toBeGreaterThanOrEqual(RUNS);
    expect((await env.fetch('/health')).status).toBe(200);
  }, 600_000);
});

/**
 * Inputs shaped for the patterns that read request text (long runs of what a pattern repeats, without
 * what it then looks for) against ordinary junk of the same size, per route: a pattern worse than
 * linear shows as a shaped input taking many times as long. Medians of interleaved runs.
 */
describe('the slowest inputs per route', () => {
  const SIZE = 16_000;
  const fill = (unit: string, size = SIZE) => unit.repeat(Math.floor(size / unit.length));
  const shapes = (size = SIZE) => [
    fill('"kty"', size),
    fill('"d":', size),
    fill('-----BEGIN', size),
    `-----BEGIN ${fill('A ', size - 12)}`,
    `${fill(' \t', size - 1)}x`,
    `${fill('=', size - 1)}x`,
    `${fill('/', size - 1)}x`,
    fill(`${TOKEN_SHAPED} `, size),
    fill('gat_1_', size),
  ];
  const ordinary = (size = SIZE) => 'q'.repeat(size);

  interface RouteProbe {
    readonly name: string;
    readonly size?: number;
    send(text: string): Promise<Response>;
  }
  const json = (method: string, path: string, token: string, body: unknown) =>
    env.fetch(path, { method, headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const probes = (alice: string, packaging: string): RouteProbe[] => [
    {
      name: 'POST sshkeys (publicData)',
      send: (text) => json('POST', '/contoso/_apis/tokens/sshkeys?api-version=7.1-preview.1', alice, { displayName: 'k', publicData: text }),
    },
    {
      name: 'PAT authentication (Authorization header)',
      size: 4000,
      send: (text) => env.fetch('/contoso/_apis/connectionData', { headers: { authorization: `Basic ${text}` } }),
    },
    {
      name: 'PAT authentication (Bearer)',
      size: 4000,
      send: (text) => env.fetch('/contoso/_apis/connectionData', { headers: { authorization: `Bearer x${text}` } }),
    },
    {
      name: 'POST feeds (upstream location)',
      size: 2000,
      send: (text) =>
        json('POST', '/contoso/_apis/packaging/feeds?api-version=7.1', packaging, {
          name: 'timed',
          upstreamSources: [{ upstreamSourceType: 'public', location: `https://registry.example.com/${encodeURIComponent(text).slice(0, 2000)}` }],
        }),
    },
    {
      name: 'POST organizations (description)',
      size: 1000,
      send: (text) => json('POST', '/_apis/organizations?api-version=7.1', alice, { name: 'Not A Valid Name!', description: text }),
    },
  ];

  const median = (values: number[]) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]!;

  it('answers every route about as fast for shaped inputs as for ordinary ones', async () => {
    const alice = await env.userToken('alice@contoso.com');
    const packaging = await env.userToken('alice@contoso.com', { scopes: ['vso.packaging_manage'] });
    const report: string[] = [];
    for (const probe of probes(alice, packaging)) {
      const size = probe.size ?? SIZE;
      const inputs = [ordinary(size), ...shapes(size)];
      const times = inputs.map(() => [] as number[]);
      for (let round = 0; round < 5; round += 1) {
        for (const [index, text] of inputs.entries()) {
          const started = performance.now();
          const response = await probe.send(text);
          await response.arrayBuffer();
          times[index]!.push(performance.now() - started);
          expect(response.status, `${probe.name} shape ${index}`).toBeLessThan(500);
        }
      }
      const [base, ...shaped] = times.map(median);
      const slowest = Math.max(...shaped);
      report.push(`${probe.name}: ordinary ${base!.toFixed(1)} ms, slowest shaped ${slowest.toFixed(1)} ms (shape ${shaped.indexOf(slowest)})`);
      // Linear work on the same size stays within a small factor; the slack absorbs scheduling noise.
      expect(slowest, report.at(-1)).toBeLessThan(base! * 3 + 15);
    }
    console.log(report.join('\n'));
  }, 120_000);
});
