import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { client } from '../helpers/client.js';

/**
 * Large request bodies, sent as an abuser would: publishes refused anyway (no right to publish, over
 * the publish limit, no declared length) must not raise the process's memory by their size.
 */
let env: TestEnvironment;
const api = client(() => env);
let publisher: string;
let reader: string;
const MiB = 1024 * 1024;
const REGISTRY = '/contoso/_packaging/main/npm/registry';

beforeAll(async () => {
  env = await startTestEnvironment({ settings: { NPM_MAX_PUBLISH_BYTES: String(64 * MiB) } });
  publisher = await env.userToken('alice@contoso.com', { scopes: ['vso.packaging_manage'] });
  reader = await env.userToken('dave@contoso.com', { scopes: ['vso.packaging'] });
  const created = await api.as(publisher).post('/contoso/_apis/packaging/feeds?api-version=7.1', { name: 'main' });
  expect(created.status, created.text).toBe(201);
}, 60_000);
afterAll(async () => {
  await env?.stop();
});

const memoryInUse = () => {
  const usage = process.memoryUsage();
  return usage.heapUsed + usage.arrayBuffers;
};

/**
 * Sends `size` bytes of JSON-looking body in 1 MiB chunks (one reused buffer, so the sender holds
 * none of it), with or without Content-Length, while sampling the memory in use of this process,
 * which also runs the service. Answers the status, the error code and the peak growth.
 */
async function sendLarge(path: string, token: string, size: number, declareLength: boolean): Promise<{ status: number; code: string; growth: number }> {
  const chunk = Buffer.alloc(MiB, 'A');
  const baseline = memoryInUse();
  let peak = baseline;
  const sampler = setInterval(() => {
    peak = Math.max(peak, memoryInUse());
  }, 2);
  try {
    const { status, text } = await new Promise<{ status: number; text: string }>((resolve, reject) => {
      const url = new URL(path, env.url);
      const headers: Record<string, string> = { authorization: `Bearer ${token}`, 'content-type': 'application/json' };
      if (declareLength) headers['content-length'] = String(size);
      const outgoing = request(url, { method: 'PUT', headers });
      let answered = false;
      outgoing.on('response', (response) => {
        answered = true;
        let text = '';
        response.setEncoding('utf8');
        response.on('data', (part: string) => (text += part));
        response.on('end', () => resolve({ status: response.statusCode ?? 0, text }));
        response.on('error', reject);
      });
      outgoing.on('error', (error) => {
        if (!answered) reject(error);
      });
      void (async () => {
        let sent = 0;
        while (sent < size && !answered && !outgoing.destroyed) {
          const piece = size - sent >= MiB ? chunk : chunk.subarray(0, size - sent);
          sent += piece.length;
          if (!outgoing.write(piece)) await new Promise((resume) => outgoing.once('drain', resume).once('close', resume));
        }
        if (!outgoing.destroyed) outgoing.end();
      })();
    });
    return { status, code: (JSON.parse(text) as { code?: string }).code ?? '', growth: peak - baseline };
  } finally {
    clearInterval(sampler);
  }
}

const LIMIT_GROWTH = 50 * MiB;

describe('request bodies are bounded before they are buffered', () => {
  it('refuses a 60 MB publish from a caller who may not publish without reading it', async () => {
    const result = await sendLarge(`${REGISTRY}/victim-package`, reader, 60 * MiB, true);
    expect(result.status).toBe(403);
    expect(result.growth).toBeLessThan(LIMIT_GROWTH);
  });

  it('refuses a 70 MB publish over the publish limit with 413 before reading it', async () => {
    const result = await sendLarge(`${REGISTRY}/big-package`, publisher, 70 * MiB, true);
    expect(result.status).toBe(413);
    expect(result.code).toBe('requestBodyTooLarge');
    expect(result.growth).toBeLessThan(LIMIT_GROWTH);
  });

  it('refuses a 70 MB publish that does not declare its length once 1 MiB has been read', async () => {
    const result = await sendLarge(`${REGISTRY}/chunked-package`, publisher, 70 * MiB, false);
    expect(result.status).toBe(411);
    expect(result.code).toBe('lengthRequired');
    expect(result.growth).toBeLessThan(LIMIT_GROWTH);
  });

  it('bounds an ordinary route by its own limit, streamed or declared', async () => {
    const path = `${REGISTRY}/-/package/some-package/dist-tags/beta`;
    for (const declareLength of [true, false]) {
      const result = await sendLarge(path, publisher, 5 * MiB, declareLength);
      expect(result.status).toBe(413);
      expect(result.code).toBe('requestBodyTooLarge');
    }
  });
});
