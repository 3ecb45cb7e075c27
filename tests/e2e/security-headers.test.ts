/**
 * Security headers on every kind of response, as Chromium receives them, and the one that
 * matters most for a keyboard-driven page: no other site can frame it.
 */
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../helpers/browser';

const appUrl = inject('appUrl');
let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

describe('security headers', () => {
  it('are on pages, route handlers and API answers, errors included', async () => {
    const page = await browser.newPage();
    for (const path of ['/signin', '/projects', '/api/health', '/api/v1/openapi.json', '/api/trpc/projects.list', '/no-such-page']) {
      const response = await page.goto(`${appUrl}${path}`);
      const headers = response!.headers();
      expect(headers['content-security-policy'], path).toContain("frame-ancestors 'none'");
      expect(headers['x-frame-options'], path).toBe('DENY');
      expect(headers['x-content-type-options'], path).toBe('nosniff');
      expect(headers['referrer-policy'], path).toBe('same-origin');
      expect(headers['strict-transport-security'], path).toMatch(/max-age=\d+/);
    }
    await page.close();
  });

  it('keep another site from framing the app', async () => {
    const page = await browser.newPage();
    // A page of another origin (about:blank's) that frames the sign-in page.
    await page.setContent(`<iframe id="f" src="${appUrl}/signin" width="800" height="600"></iframe>`);
    await page.waitForTimeout(1500);
    // Chromium refuses to render the app in the frame: the frame holds its error page instead.
    const child = page.frames().find((f) => f !== page.mainFrame());
    expect(child, 'the iframe exists').toBeDefined();
    expect(child!.url()).toMatch(/^chrome-error:/);
    expect(await child!.locator('input[type="password"]').count()).toBe(0);
    await page.close();
  });
});
