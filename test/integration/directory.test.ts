import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';

let env: TestEnvironment;
beforeAll(async () => {
  env = await startTestEnvironment();
});
afterAll(async () => {
  await env?.stop();
});

describe('organizations and projects', () => {
  it('lists the demo projects of contoso for alice', async () => {
    const token = await env.userToken('alice@contoso.com');
    const response = await env.fetch('/contoso/_apis/projects?api-version=7.1', { token });
    expect(response.status).toBe(200);
    const body = (await response.json()) as { count: number; value: { name: string; visibility: string }[] };
    expect(body.value.map((p) => p.name)).toEqual(['api', 'oss', 'web']);
    expect(body.value.find((p) => p.name === 'oss')?.visibility).toBe('public');
  });
});
