import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type BrowserContext, type Page } from 'playwright-core';
import { AxeBuilder } from '@axe-core/playwright';
import { expect } from 'vitest';

/** Debian's chromium (CHROMIUM_PATH overrides); .ci/run installs it when missing. */
export function chromiumPath(): string {
  const candidates = [process.env.CHROMIUM_PATH, '/usr/bin/chromium', '/usr/bin/chromium-browser'].filter((path): path is string => Boolean(path));
  const found = candidates.find((path) => existsSync(path));
  if (!found) throw new Error('Chromium is not installed: apt-get install -y chromium (or set CHROMIUM_PATH)');
  return found;
}

/** A fresh profile each launch (Playwright makes a temporary user data directory). */
export async function launchChromium(): Promise<Browser> {
  return chromium.launch({
    executablePath: chromiumPath(),
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
    ],
  });
}

export const DESKTOP = { width: 1280, height: 800 };
export const PHONE = { width: 390, height: 844 };

export async function newContext(browser: Browser, baseURL: string, viewport = DESKTOP): Promise<BrowserContext> {
  return browser.newContext({
    baseURL,
    viewport,
    locale: 'en-GB',
    timezoneId: 'Europe/Amsterdam',
    acceptDownloads: true,
    permissions: ['clipboard-read', 'clipboard-write'],
  });
}

/** axe: no serious or critical violation. */
export async function expectAccessible(page: Page): Promise<void> {
  const results = await new AxeBuilder({ page }).withTags(['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa']).analyze();
  const bad = results.violations.filter((violation) => violation.impact === 'serious' || violation.impact === 'critical');
  expect(bad.map((violation) => `${violation.id}: ${violation.help} (${violation.nodes.map((node) => node.target.join(' ')).join(', ')})`)).toEqual([]);
}

const SCREENSHOTS = join(process.cwd(), 'docs', 'screenshots');

/**
 * The page at desktop and phone width: it must not scroll sideways on a phone. With
 * UPDATE_SCREENSHOTS=1 (npm run screenshots) both are saved into docs/screenshots, which docs/portal.md links.
 */
export async function screenshots(page: Page, name: string): Promise<void> {
  const save = process.env.UPDATE_SCREENSHOTS === '1';
  if (save) mkdirSync(SCREENSHOTS, { recursive: true });
  const original = page.viewportSize() ?? DESKTOP;
  await page.setViewportSize(DESKTOP);
  if (save) await page.screenshot({ path: join(SCREENSHOTS, `${name}-desktop.png`), fullPage: true });
  await page.setViewportSize(PHONE);
  if (save) await page.screenshot({ path: join(SCREENSHOTS, `${name}-phone.png`), fullPage: true });
  const width = await page.evaluate<number>('document.documentElement.scrollWidth');
  const wide =
    width > PHONE.width + 1
      ? await page.evaluate<string>(
          `[...document.querySelectorAll('body *')].filter((e) => e.getBoundingClientRect().right > ${PHONE.width + 1} && !e.closest('.table-wrap')).map((e) => e.tagName + '.' + e.className).slice(0, 5).join(' ')`,
        )
      : '';
  expect(width, `${name} scrolls sideways at phone width: ${wide}`).toBeLessThanOrEqual(PHONE.width + 1);
  await page.setViewportSize(original);
}
