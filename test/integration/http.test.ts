import { Validator } from '@seriousme/openapi-schema-validator';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import { createAppContext, useAppContext } from '../../shared/app-context.js';
import { loadConfig } from '../../shared/config.js';
import { azuriteConnectionString } from '../../shared/storage/clients.js';
import { freePort } from '../../local/azurite.js';
import { startLocalRuntime } from '../../local/runner.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';

let env: TestEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment({ settings: { MAX_REQUEST_BODY_BYTES: String(64 * 1024) } });
});
afterAll(async () => {
  await env?.stop();
});

const ERROR_FIELDS = ['$id', 'innerException', 'message', 'typeName', 'typeKey', 'errorCode', 'eventId', 'code'];

async function expectError(response: Response, status: number, code: string): Promise<Record<string, unknown>> {
  expect(response.status).toBe(status);
  expect(response.headers.get('content-type')).toMatch(/^application\/json/);
  const body = (await response.json()) as Record<string, unknown>;
  for (const field of ERROR_FIELDS) expect(body, field).toHaveProperty(field);
  expect(body.code).toBe(code);
  return body;
}

describe('routing and methods', () => {
  it('answers unknown routes with 404 routeNotFound in the Azure DevOps error shape', async () => {
    await expectError(await env.fetch('/contoso/_apis/nothing/here?api-version=7.1'), 404, 'routeNotFound');
    await expectError(await env.fetch('/'), 404, 'routeNotFound');
  });

  it('answers a known path with the wrong method with 405 and Allow', async () => {
    const response = await env.fetch('/contoso/_apis/projects?api-version=7.1', { method: 'PUT' });
    expect(response.headers.get('allow')).toBe('GET, POST');
    await expectError(response, 405, 'methodNotAllowed');
  });

  it('matches routes case-insensitively, as Azure DevOps does', async () => {
    const token = await env.userToken('alice@contoso.com');
    expect((await env.fetch('/contoso/_APIS/Projects?api-version=7.1', { token })).status).toBe(200);
  });

  it('requires a supported api-version on _apis routes', async () => {
    const token = await env.userToken('alice@contoso.com');
    const missing = await expectError(await env.fetch('/contoso/_apis/projects', { token }), 400, 'apiVersionRequired');
    expect(missing.message).toMatch(/7\.1/);
    const wrong = await expectError(await env.fetch('/contoso/_apis/projects?api-version=7.3', { token }), 400, 'unsupportedApiVersion');
    expect(wrong.message).toContain('Supported versions: 1.0 to 7.1, and 1.0-preview to 7.2-preview.4');
    await expectError(await env.fetch('/contoso/_apis/projects?api-version=7.2', { token }), 400, 'unsupportedApiVersion');
    await expectError(await env.fetch('/contoso/_apis/projects?api-version=7.1&api-version=7.1', { token }), 400, 'duplicateQueryParameter');
  });

  it('reads the api-version from the Accept header when the query has none', async () => {
    const token = await env.userToken('alice@contoso.com');
    const accept = (version: string) => ({ token, headers: { accept: `application/json;api-version=${version}` } });
    expect((await env.fetch('/contoso/_apis/projects', accept('7.1-preview.4'))).status).toBe(200);
    expect((await env.fetch('/contoso/_apis/projects', accept('5.0'))).status).toBe(200);
    const malformed = await expectError(await env.fetch('/contoso/_apis/projects', accept('7.1-beta')), 400, 'unsupportedApiVersion');
    const malformedQuery = await expectError(await env.fetch('/contoso/_apis/projects?api-version=7.1-beta', { token }), 400, 'unsupportedApiVersion');
    expect(malformed.message).toBe(malformedQuery.message);
    // The query wins over the header.
    await expectError(await env.fetch('/contoso/_apis/projects?api-version=9.0', accept('7.1')), 400, 'unsupportedApiVersion');
    expect((await env.fetch('/contoso/_apis/projects?api-version=7.1', accept('9.0'))).status).toBe(200);
    await expectError(await env.fetch('/contoso/_apis/projects', { token, headers: { accept: 'application/json' } }), 400, 'apiVersionRequired');
  });

  it('rejects malformed path encoding', async () => {
    await expectError(await env.fetch('/contoso/_apis/projects/%E0%A4%A?api-version=7.1'), 400, 'invalidPath');
  });

  it('sets security headers on every response', async () => {
    for (const response of [await env.fetch('/health'), await env.fetch('/nope')]) {
      expect(response.headers.get('cache-control')).toBe('no-store');
      expect(response.headers.get('x-content-type-options')).toBe('nosniff');
      expect(response.headers.get('x-activity-id')).toMatch(/^[0-9a-f-]{36}$/);
    }
  });
});

describe('request bodies', () => {
  const post = async (body: string | Uint8Array, contentType = 'application/json') =>
    env.fetch('/contoso/_apis/projects?api-version=7.1', {
      method: 'POST',
      token: await env.userToken('alice@contoso.com'),
      headers: { 'content-type': contentType },
      body,
    });

  it('refuses malformed JSON, a wrong content type, an empty body and unknown fields, writing nothing', async () => {
    await expectError(await post('{"name": '), 400, 'invalidJson');
    await expectError(await post('name=x', 'application/x-www-form-urlencoded'), 415, 'unsupportedMediaType');
    await expectError(await post(''), 400, 'bodyRequired');
    await expectError(await post(JSON.stringify({ name: 'ok-name', admin: true })), 400, 'invalidRequestBody');
    await expectError(await post('[]'), 400, 'invalidRequestBody');
    const list = (await (await env.fetch('/contoso/_apis/projects?api-version=7.1', { token: await env.userToken('alice@contoso.com') })).json()) as {
      count: number;
    };
    expect(list.count).toBe(3);
  });

  it('answers 413 to bodies over the limit', async () => {
    const big = JSON.stringify({ name: 'big', description: 'x'.repeat(70 * 1024) });
    await expectError(await post(big), 413, 'requestBodyTooLarge');
  });
});

describe('health and OpenAPI', () => {
  it('reports healthy storage without authentication or secrets', async () => {
    const response = await env.fetch('/health');
    expect(response.status).toBe(200);
    const text = await response.text();
    expect(JSON.parse(text)).toEqual({ status: 'healthy' });
    expect(text).not.toMatch(/AccountKey|devstoreaccount/);
  });

  it('reports 503 when storage does not answer', async () => {
    const deadPort = await freePort();
    const dead = azuriteConnectionString('127.0.0.1', { blob: deadPort, queue: deadPort, table: deadPort });
    const app = createAppContext(loadConfig({ ...env.settings, STORAGE: dead }), { clock: env.clock, log: env.app.log });
    useAppContext(app);
    const runtime = await startLocalRuntime({
      declarations,
      settings: env.settings,
      queueClient: (_, q) => app.storage.queue(q),
      log: app.log,
      port: 0,
      maxRequestBodyBytes: 1024,
      triggers: false,
      masterKey: env.masterKey,
    });
    try {
      const response = await fetch(`${runtime.url}/health`);
      expect(response.status).toBe(503);
      expect(await response.json()).toEqual({ status: 'unhealthy' });
      const token = await env.userToken('alice@contoso.com');
      const api = await fetch(`${runtime.url}/contoso/_apis/projects?api-version=7.1`, { headers: { Authorization: `Bearer ${token}` } });
      await expectError(api, 503, 'storageUnavailable');
      expect(api.headers.get('retry-after')).toBe('5');
    } finally {
      await runtime.stop();
      useAppContext(env.app);
    }
  });

  it('serves a valid OpenAPI 3.1 document that lists every route', async () => {
    const document = (await (await env.fetch('/openapi.json')).json()) as { openapi: string; paths: Record<string, Record<string, unknown>> };
    expect(document.openapi).toBe('3.1.0');
    const result = await new Validator().validate(document);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    for (const declaration of declarations) {
      if (declaration.kind !== 'http' || declaration.options.route.includes('{*')) continue;
      const path = `/${declaration.options.route}`;
      for (const method of declaration.options.methods) {
        expect(document.paths[path]?.[method.toLowerCase()], `${method} ${path}`).toBeDefined();
      }
    }
  });
});
