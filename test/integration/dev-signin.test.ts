import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import { devSignInDeclarations } from '../../local/dev-signin.js';
import { generateSigningKey } from '../../local/dev-secrets.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';

// The portal's development sign-in mints tokens with the development key: it must be refused by an
// app that trusts any other issuer (a real tenant), even when its routes are served.
let env: TestEnvironment;

beforeAll(async () => {
  const signingKey = await generateSigningKey();
  env = await startTestEnvironment({ signingKey, declarations: [...devSignInDeclarations(signingKey), ...declarations], seed: false });
});

afterAll(async () => {
  await env?.stop();
});

describe('development sign-in', () => {
  it('answers 404 and the portal offers no development sign-in when the app trusts another issuer', async () => {
    const token = await env.fetch('/_portal/dev/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'alice@contoso.com' }),
    });
    expect(token.status).toBe(404);
    expect(((await token.json()) as { code: string }).code).toBe('routeNotFound');
    const identities = await env.fetch('/_portal/dev/identities');
    expect(identities.status).toBe(404);
    await identities.body?.cancel();
    const config = (await (await env.fetch('/_portal/config.json')).json()) as { signIn: { kind: string } };
    expect(config.signIn.kind).toBe('unavailable');
  });

  it('serves the portal page shell with its own content security policy, and API errors stay JSON', async () => {
    const page = await env.fetch('/contoso/_settings/organizationPolicy');
    expect([200, 404]).toContain(page.status);
    expect(page.headers.get('x-content-type-options')).toBe('nosniff');
    await page.body?.cancel();
    const missing = await env.fetch('/_portal/assets/nothing-here.js');
    expect(missing.status).toBe(404);
    expect(missing.headers.get('cache-control')).toBe('no-store');
    await missing.body?.cancel();
  });
});
