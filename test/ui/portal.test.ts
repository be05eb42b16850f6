import { readFileSync, readdirSync } from 'node:fs';
import { generateKeyPairSync } from 'node:crypto';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import sshpk from 'sshpk';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { declarations } from '../../functions/declarations.js';
import { devSignInDeclarations } from '../../local/dev-signin.js';
import { generateSigningKey } from '../../local/dev-secrets.js';
import { DEVELOPMENT_ISSUER } from '../../shared/portal/config.js';
import { startTestEnvironment, type TestEnvironment } from '../helpers/environment.js';
import { DESKTOP, expectAccessible, launchChromium, newContext, screenshots } from './browser.js';

let env: TestEnvironment;
const YEARLY = '0 0 3 1 1 *';
let browser: Browser;

beforeAll(async () => {
  const signingKey = await generateSigningKey();
  env = await startTestEnvironment({
    signingKey,
    declarations: [...devSignInDeclarations(signingKey), ...declarations],
    // Timers run only when a test invokes them: none fires on the wall clock in the middle of a flow.
    settings: { AUTH_ISSUER: DEVELOPMENT_ISSUER, GRANT_REVIEW_SCHEDULE: YEARLY, LIFECYCLE_SCHEDULE: YEARLY, AUDIT_RETENTION_SCHEDULE: YEARLY },
    triggers: true,
  });
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
  await env?.stop();
});

/** A signed-in browser tab: the development sign-in, as a person would use it. */
async function signIn(email: string, options: { operator?: boolean; viewport?: typeof DESKTOP } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await newContext(browser, env.url, options.viewport);
  const page = await context.newPage();
  await page.goto('/_portal/');
  await page.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
  await page.getByLabel(new RegExp(email.replace('.', '\\.'))).check();
  if (options.operator) await page.getByLabel(/Service operator/).check();
  await page.getByRole('button', { name: 'Sign in' }).click();
  await page
    .getByRole('banner')
    .getByText(/Sign out/)
    .waitFor();
  return { context, page };
}

const basic = (secret: string) => ({ Authorization: `Basic ${Buffer.from(`:${secret}`).toString('base64')}` });

async function apiWithPat(secret: string): Promise<number> {
  const response = await fetch(`${env.url}/contoso/_apis/connectionData`, { headers: basic(secret) });
  await response.body?.cancel();
  return response.status;
}

async function createToken(page: Page, name: string, options: { days?: string; scope?: [string, string] } = {}): Promise<string> {
  await page.getByRole('button', { name: 'New token' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create a new personal access token' });
  await dialog.getByLabel('Name').fill(name);
  if (options.days) await dialog.getByLabel('Expiration').selectOption(options.days);
  const [group, level] = options.scope ?? ['Code', 'Read'];
  await dialog.getByLabel(group, { exact: true }).selectOption({ label: level });
  await dialog.getByRole('button', { name: 'Create' }).click();
  const secret = await page.getByLabel(`Token for ${name}`).inputValue();
  await page.getByRole('button', { name: 'Done' }).click();
  return secret;
}

describe('the portal', () => {
  it('serves the shell with a strict content security policy and hashed, cacheable assets', async () => {
    const shell = await fetch(`${env.url}/contoso/_usersSettings/tokens`);
    expect(shell.status).toBe(200);
    expect(shell.headers.get('content-security-policy')).toContain("script-src 'self'");
    expect(shell.headers.get('content-security-policy')).not.toContain('unsafe-inline');
    const html = await shell.text();
    expect(html).not.toMatch(/<script(?![^>]*\bsrc=)[^>]*>/);
    const script = /src="(\/_portal\/assets\/index-[\w-]+\.js)"/.exec(html)?.[1];
    expect(script).toBeDefined();
    const asset = await fetch(`${env.url}${script}`, { headers: { 'Accept-Encoding': 'br' } });
    expect(asset.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    await asset.body?.cancel();
    const api = await fetch(`${env.url}/contoso/_apis/tokens/pats?api-version=7.1`);
    expect(api.headers.get('cache-control')).toBe('no-store');
    await api.body?.cancel();
  });

  it('keeps the first page JavaScript within 150 KB compressed, MSAL included', () => {
    const assets = join(process.cwd(), 'dist', 'web', 'assets');
    const html = readFileSync(join(process.cwd(), 'dist', 'web', 'index.html'), 'utf8');
    const entry = /assets\/(index-[\w-]+\.js)/.exec(html)?.[1] ?? '';
    const msal = readdirSync(assets).filter((file) => /\.js$/.test(file) && readFileSync(join(assets, file), 'utf8').includes('PublicClientApplication'));
    const total = [entry, ...msal].reduce((sum, file) => sum + gzipSync(readFileSync(join(assets, file))).length, 0);
    expect(total).toBeLessThanOrEqual(150 * 1024);
  });

  let bobSecret = '';

  it('lets Bob sign in, create a token with the keyboard and use its secret against the API', async () => {
    const context = await newContext(browser, env.url);
    const page = await context.newPage();
    await page.goto('/_portal/');
    await page.getByRole('heading', { name: 'Sign in to Gatehouse' }).waitFor();
    await expectAccessible(page);
    await screenshots(page, 'sign-in');
    await page.getByLabel(/bob@contoso\.com/).check();
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.getByRole('heading', { name: 'Personal access tokens' }).waitFor();
    expect(new URL(page.url()).pathname).toBe('/contoso/_usersSettings/tokens');
    await expect.poll(() => page.getByRole('navigation').getByRole('link').allTextContents()).toContain('SSH public keys');
    expect(await page.getByRole('navigation').getByRole('link', { name: 'Policies' }).count()).toBe(0);

    // Keyboard only: focus the New token button, fill the form with Tab and the keys.
    await page.getByRole('button', { name: 'New token' }).focus();
    await page.keyboard.press('Enter');
    const dialog = page.getByRole('dialog', { name: 'Create a new personal access token' });
    await expect.poll(() => page.evaluate('document.activeElement?.closest("dialog") !== null')).toBe(true);
    await dialog.getByLabel('Name').focus();
    await page.keyboard.type('pipeline');
    await page.keyboard.press('Tab'); // organization
    await page.keyboard.press('Tab'); // expiration
    await page.keyboard.press('Tab'); // custom scopes radio
    await dialog.getByLabel('Packaging', { exact: true }).focus();
    await page.keyboard.press('ArrowDown'); // Read
    await page.keyboard.press('ArrowDown'); // Read & write
    await expectAccessible(page);
    await screenshots(page, 'tokens-create');
    await dialog.getByRole('button', { name: 'Create' }).focus();
    await page.keyboard.press('Enter');
    const secretField = page.getByLabel('Token for pipeline');
    bobSecret = await secretField.inputValue();
    expect(bobSecret).toMatch(/^gat_/);
    env.issuedSecrets.add(bobSecret);
    await expectAccessible(page);
    await page.keyboard.press('Escape');
    await expect.poll(() => page.getByRole('row', { name: /pipeline/ }).count()).toBe(1);
    const row = (await page.getByRole('row', { name: /pipeline/ }).textContent()) ?? '';
    expect(row).toContain('Packaging (Read & write)');
    expect(row, "dates in the viewer's locale (en-GB)").toMatch(/\d{1,2} [A-Z][a-z]{2} \d{4}/);
    expect(await apiWithPat(bobSecret)).toBe(200);
    // The secret is never kept in the browser.
    const stored = await page.evaluate<string>('JSON.stringify(sessionStorage) + JSON.stringify(localStorage) + document.cookie');
    expect(stored).not.toContain(bobSecret);
    await expectAccessible(page);
    await screenshots(page, 'tokens');
    await context.close();
  });

  it('renews, rotates with grace and revokes a token', async () => {
    const { context, page } = await signIn('bob@contoso.com');
    const secret = await createToken(page, 'deploy', { days: '7' });
    env.issuedSecrets.add(secret);
    const row = page.getByRole('row', { name: /deploy/ });
    await row.waitFor();
    expect(await row.textContent()).toContain('expires soon');

    await page.getByRole('button', { name: 'Renew deploy' }).click();
    await page.getByRole('dialog', { name: 'Renew token' }).getByLabel('Expiration').selectOption('90');
    await page.getByRole('dialog', { name: 'Renew token' }).getByRole('button', { name: 'Renew' }).click();
    await expect.poll(async () => (await row.textContent()) ?? '').not.toContain('expires soon');

    await page.getByRole('button', { name: 'Rotate deploy' }).click();
    await page
      .getByRole('dialog', { name: 'Rotate token' })
      .getByLabel(/old secret keeps working/)
      .selectOption('60');
    await page.getByRole('dialog', { name: 'Rotate token' }).getByRole('button', { name: 'Rotate' }).click();
    const rotated = await page.getByLabel('Token for deploy').inputValue();
    env.issuedSecrets.add(rotated);
    expect(rotated).not.toBe(secret);
    await page.getByRole('button', { name: 'Done' }).click();
    expect(await apiWithPat(rotated)).toBe(200);
    expect(await apiWithPat(secret)).toBe(200); // the grace period

    // The old token stays active through its grace period: revoke both.
    expect(await page.getByRole('row', { name: /deploy/ }).count()).toBe(2);
    // The first with the keyboard alone: the dialog takes focus (its close button), Tab reaches Revoke.
    await page.getByRole('button', { name: 'Revoke deploy' }).first().focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Revoke token' }).waitFor();
    await page.keyboard.press('Tab');
    expect(await page.evaluate('document.activeElement?.textContent')).toBe('Revoke');
    await page.keyboard.press('Enter');
    await expect.poll(() => page.getByRole('row', { name: /deploy/ }).count()).toBe(1);
    await page.getByRole('button', { name: 'Revoke deploy' }).click();
    await page.getByRole('dialog', { name: 'Revoke token' }).getByRole('button', { name: 'Revoke' }).click();
    await expect.poll(() => page.getByRole('row', { name: /deploy/ }).count()).toBe(0);
    expect(await apiWithPat(secret)).toBe(401);
    expect(await apiWithPat(rotated)).toBe(401);
    await page.getByLabel('Status').selectOption('revoked');
    await expect.poll(() => page.getByRole('row', { name: /deploy/ }).count()).toBeGreaterThan(0);
    await page.getByLabel('Status').selectOption('active');
    await page.getByLabel('Search').fill('pipe');
    await expect.poll(() => page.getByRole('row').count()).toBe(2);
    await context.close();
  });

  it('adds an SSH key by paste, checks it before sending, revokes it; the inbox shows the expiry reminder', async () => {
    const { context, page } = await signIn('bob@contoso.com');
    await page.getByRole('navigation').getByRole('link', { name: 'SSH public keys' }).click();
    await page.getByRole('heading', { name: 'SSH public keys' }).waitFor();
    await page.getByRole('button', { name: 'New key' }).click();
    const dialog = page.getByRole('dialog', { name: 'Add an SSH public key' });
    await dialog.getByLabel('Public key').fill('-----BEGIN OPENSSH PRIVATE KEY-----\nabc\n-----END OPENSSH PRIVATE KEY-----');
    await dialog.getByLabel('Name').fill('oops');
    await dialog.getByRole('button', { name: 'Add' }).click();
    await dialog.getByText(/This is a private key/).waitFor();
    // The .pub file fills in the key and, when the name is empty, the name.
    const { publicKey } = generateKeyPairSync('ed25519');
    const openssh = sshpk.parseKey(publicKey.export({ type: 'spki', format: 'pem' }).toString(), 'pem').toString('ssh');
    await dialog.getByLabel('Name').fill('');
    await dialog
      .getByLabel('Or choose a .pub file')
      .setInputFiles({ name: 'laptop.pub', mimeType: 'text/plain', buffer: Buffer.from(`${openssh} bob@laptop\n`) });
    await expect.poll(() => dialog.getByLabel('Name').inputValue()).toBe('laptop');
    expect(await dialog.getByLabel('Public key').inputValue()).toBe(`${openssh} bob@laptop`);
    await expectAccessible(page);
    await screenshots(page, 'ssh-keys-add');
    await dialog.getByRole('button', { name: 'Add' }).click();
    const row = page.getByRole('row', { name: /laptop/ });
    await row.waitFor();
    expect(await row.textContent()).toMatch(/SHA256:/);
    await expectAccessible(page);
    await screenshots(page, 'ssh-keys');
    await page.getByRole('button', { name: 'Revoke laptop' }).click();
    await expect.poll(() => page.getByRole('row', { name: /laptop/ }).count()).toBe(0);
    await context.close();

    // A day later Bob's 30-day token enters the first rung of the reminder ladder: the lifecycle timer
    // queues a reminder and the sender puts it in his inbox.
    await env.runtime.invoke('lifecycle');
    env.clock.advance(24 * 60 * 60 * 1000);
    await env.runtime.invoke('lifecycle');
    const later = await signIn('bob@contoso.com');
    await later.page.getByRole('navigation').getByRole('link', { name: 'Notifications' }).click();
    await later.page.getByRole('heading', { name: 'Notifications' }).waitFor();
    const reminder = later.page.getByRole('listitem').filter({ hasText: /pipeline/ });
    await expect
      .poll(
        async () => {
          await later.page.getByLabel('Unread only').click();
          return reminder.count();
        },
        { timeout: 20_000 },
      )
      .toBeGreaterThan(0);
    expect(await reminder.first().getAttribute('class')).toContain('expiring');
    await expectAccessible(later.page);
    await screenshots(later.page, 'notifications');
    await later.page.getByLabel('Unread only').setChecked(false);
    await reminder.first().getByRole('button', { name: 'Mark read' }).click();
    await reminder.first().getByRole('button', { name: 'Mark unread' }).waitFor();
    await later.context.close();
  });

  it('lets an administrator preview and save a policy, revoke a token of Bob, and read the audit log', async () => {
    const { context, page } = await signIn('alice@contoso.com');
    await page.getByRole('navigation').getByRole('link', { name: 'Policies' }).click();
    await page.getByRole('heading', { name: 'Policies' }).waitFor();
    await page.getByLabel('Enforce a maximum lifetime').check();
    await page.getByLabel('Maximum lifetime (days)').fill('20');
    await page.getByRole('button', { name: 'Preview' }).click();
    const preview = page.getByRole('region', { name: 'Who would be affected' });
    await preview.getByText('Bob Builder').first().waitFor();
    await expectAccessible(page);
    await screenshots(page, 'policies');
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Policies saved.').waitFor();

    await page.getByRole('navigation').getByRole('link', { name: 'Token administration' }).click();
    await page.getByLabel('Find a person').fill('bob');
    await page.getByRole('button', { name: 'Search' }).click();
    await page.getByRole('button', { name: /Bob Builder/ }).click();
    await page.getByRole('button', { name: 'Revoke pipeline' }).click();
    await expect.poll(() => page.getByRole('button', { name: 'Revoke pipeline' }).count()).toBe(0);
    expect(await apiWithPat(bobSecret)).toBe(401);
    await expectAccessible(page);
    await screenshots(page, 'token-administration');

    await page.getByRole('navigation').getByRole('link', { name: 'Auditing' }).click();
    await page.getByRole('heading', { name: 'Auditing' }).waitFor();
    await expect
      .poll(
        async () => {
          await page.getByRole('button', { name: 'Apply filters' }).click();
          return page.getByRole('row').allTextContents();
        },
        { timeout: 20_000 },
      )
      .toEqual(expect.arrayContaining([expect.stringMatching(/Token\.PatRevoke|tokenadmin|Revoke/i)]));
    const texts = (await page.getByRole('table').textContent()) ?? '';
    expect(texts).toMatch(/Token/);
    const download = page.waitForEvent('download');
    await page.getByRole('button', { name: 'Download CSV' }).click();
    const csv = readFileSync(await (await download).path(), 'utf8');
    expect(csv.split('\n')[0]).toMatch(/Id|id/);
    expect(csv).toMatch(/Revoke/i);
    await page.getByRole('button', { name: 'Verify' }).click();
    await page.getByText(/The audit log is intact/).waitFor();
    await expectAccessible(page);
    await screenshots(page, 'audit');

    for (const [link, heading, shot] of [
      ['Audit readers and retention', 'Audit readers and retention', 'audit-settings'],
      ['Users', 'Users', 'users'],
      ['Projects', 'Projects', 'projects'],
      ['Overview', 'Overview', 'organization'],
    ] as const) {
      await page.getByRole('navigation').getByRole('link', { name: link, exact: true }).click();
      await page.getByRole('heading', { name: heading, exact: true }).waitFor();
      await page.getByRole('status').filter({ hasText: 'Loading' }).waitFor({ state: 'detached' });
      await expectAccessible(page);
      await screenshots(page, shot);
    }
    await page.getByRole('navigation').getByRole('link', { name: 'Projects', exact: true }).click();
    await page.getByRole('button', { name: 'New project' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create a project' });
    await dialog.getByLabel('Name').fill('docs');
    await dialog.getByRole('button', { name: 'Create' }).click();
    await page.getByRole('row', { name: /docs/ }).waitFor();

    // Limit Project-Scoped Users to their projects, for the next test.
    await page.getByRole('navigation').getByRole('link', { name: 'Overview', exact: true }).click();
    await page.getByLabel(/Limit user visibility/).check();
    await page.getByRole('button', { name: 'Save' }).click();
    await page.getByText('Saved.').waitFor();
    await context.close();
  });

  it('shows a Project-Scoped User only what the API lets her see', async () => {
    const { context, page } = await signIn('carol@contoso.com');
    await page.getByRole('heading', { name: 'Personal access tokens' }).waitFor();
    const links = await page.getByRole('navigation').getByRole('link').allTextContents();
    expect(links).toEqual(['Personal access tokens', 'SSH public keys', 'Notifications']);
    await expectAccessible(page);
    await screenshots(page, 'project-scoped-user');
    // The policy Alice saved is shown before submitting, and the expiry choices stay within it.
    await page.getByRole('button', { name: 'New token' }).click();
    const dialog = page.getByRole('dialog', { name: 'Create a new personal access token' });
    await dialog.getByText('Organization policy: tokens live at most 20 days.').waitFor();
    expect(await dialog.getByLabel('Expiration').locator('option').allTextContents()).toEqual(['7 days', 'Custom defined']);
    await dialog.getByLabel('Expiration').selectOption('custom');
    expect(await dialog.getByLabel('Expires on').getAttribute('max')).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    await page.keyboard.press('Escape');
    await page.goto('/contoso/_settings/users');
    await page
      .getByRole('alert')
      .getByText(/limits you to the projects/)
      .waitFor();
    await context.close();
  });

  it('lets an operator decide a free grant request in manual review, with a comment', async () => {
    const signedIn = await env.fetch('/_portal/dev/token', {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({ email: 'alice@contoso.com' }),
    });
    const { accessToken } = (await signedIn.json()) as { accessToken: string };
    const created = await env.fetch('/contoso/_apis/pipelines/freegrantrequests?api-version=7.1', {
      method: 'POST',
      token: accessToken,
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify({
        requesterName: 'Alice Admin',
        requesterEmail: 'alice@contoso.com',
        projects: ['oss'],
        repositories: ['https://github.com/contoso/oss'],
        description: 'Open source build tooling for the Contoso community; every build runs the public test suite on pull requests.',
      }),
    });
    expect(created.status, await created.clone().text()).toBe(201);
    const { id } = (await created.json()) as { id: string };
    await env.runtime.invoke('grant-review');
    // The organization is younger than GRANT_MIN_ORGANIZATION_AGE_DAYS, so the review asks a person.
    const reviewed = await env.fetch(`/contoso/_apis/pipelines/freegrantrequests/${id}?api-version=7.1`, { token: accessToken });
    expect(((await reviewed.json()) as { status: string }).status).toBe('manualReview');
    const { context, page } = await signIn('dave@contoso.com', { operator: true });
    await page.getByRole('navigation').getByRole('link', { name: 'Free grant reviews' }).click();
    const card = page.getByRole('article', { name: /contoso/ });
    await card.waitFor().catch(async (error: unknown) => {
      // What the page shows instead tells why (an error alert, no requests, another page).
      throw new Error(`no contoso request card at ${page.url()}: ${(await page.locator('body').innerText()).slice(0, 2000)}`, { cause: error });
    });
    await expectAccessible(page);
    await screenshots(page, 'grant-reviews');
    await card.getByLabel('Comment').fill('Public repository checked by hand.');
    await card.getByRole('button', { name: 'Approve' }).click();
    await expect.poll(() => page.getByRole('article').count()).toBe(0);
    await page.getByLabel('Status').selectOption('approved');
    await page.getByText(/Public repository checked by hand/).waitFor();
    await context.close();
  });
});
