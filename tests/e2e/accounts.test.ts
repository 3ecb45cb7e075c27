/**
 * Sign-in limits, session revocation and the platform admin's account pages, through the real
 * next-auth flow of the running app, in Chromium and over plain HTTP.
 */
import { randomBytes } from 'node:crypto';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser';
import { appUrl, artifact, cli, demoAccounts, signIn } from '../helpers/e2e-app';
import { signInOverHttp } from '../helpers/http-session';

let browser: Browser;

beforeAll(async () => {
  browser = await launchChromium();
});

afterAll(async () => {
  await browser?.close();
});

async function newUser(): Promise<{ email: string; password: string }> {
  const email = `acct-${randomBytes(4).toString('hex')}@test.local`;
  const password = 'a long enough password';
  await cli(['user', 'create', '--email', email, '--role', 'annotator'], `${password}\n`);
  return { email, password };
}

describe('accounts', () => {
  it('locks an account after repeated wrong passwords, right password included, and says so on the page', async () => {
    const user = await newUser();
    const page = await browser.newPage();
    for (let attempt = 0; attempt < 5; attempt++) {
      await page.goto(`${appUrl()}/signin`);
      await page.getByLabel('Email').fill(user.email);
      await page.getByLabel('Password').fill(`wrong ${attempt}`);
      await page.getByRole('button', { name: 'Sign in' }).click();
      await page.waitForURL(/\/signin\?/);
    }
    await page.goto(`${appUrl()}/signin`);
    await page.getByLabel('Email').fill(user.email);
    await page.getByLabel('Password').fill(user.password);
    await page.getByRole('button', { name: 'Sign in' }).click();
    await page.waitForURL(/\/signin\?/);
    await expect.poll(() => page.getByText(/Too many attempts; try again in \d+ s\./).count()).toBe(1);
    await page.screenshot({ path: artifact('signin-throttled.png') });
    // Over HTTP too: no session cookie while the account is locked.
    await expect(signInOverHttp(appUrl(), user.email, user.password)).rejects.toThrow(/failed/);
    await page.close();
  });

  it('ends a session at the next request once the user signs out everywhere or is disabled', async () => {
    const user = await newUser();
    const session = await signInOverHttp(appUrl(), user.email, user.password);
    await expect(session.mutation('users.signOutEverywhere', undefined)).resolves.toEqual({ ok: true });
    await expect(session.mutation('users.signOutEverywhere', undefined)).rejects.toThrow(/HTTP 401/);

    const again = await signInOverHttp(appUrl(), user.email, user.password);
    await expect(again.mutation('users.signOutEverywhere', undefined)).resolves.toEqual({ ok: true });
    const third = await signInOverHttp(appUrl(), user.email, user.password);
    await cli(['user', 'disable', '--email', user.email]);
    await expect(third.mutation('users.signOutEverywhere', undefined)).rejects.toThrow(/HTTP 401/);
    await expect(signInOverHttp(appUrl(), user.email, user.password)).rejects.toThrow(/failed/);
  });

  it('shows platform admins the users and the audit log of what they changed', async () => {
    const admin = demoAccounts().find((a) => a.role === 'admin')!;
    const user = await newUser();
    await cli(['user', 'disable', '--email', user.email]);
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, admin);
    await page.goto(`${appUrl()}/admin/users`);
    await expect.poll(() => page.getByText(user.email).count()).toBeGreaterThan(0);
    await page.screenshot({ path: artifact('admin-users.png'), fullPage: true });

    await page.goto(`${appUrl()}/admin/audit`);
    const events = page.getByTestId('audit-events');
    await expect.poll(() => events.getByText('cli:user disable').count()).toBeGreaterThan(0);
    await events.getByText('cli:user disable').first().click();
    await expect.poll(() => events.getByText(`"email": "${user.email}"`).count()).toBeGreaterThan(0);
    await page.screenshot({ path: artifact('admin-audit.png'), fullPage: true });

    const download = await page.request.get(`${appUrl()}/api/audit/export?action=${encodeURIComponent('cli:user disable')}`);
    expect(download.status()).toBe(200);
    const lines = (await download.text()).trim().split('\n').map((l) => JSON.parse(l) as { action: string });
    expect(lines.length).toBeGreaterThan(0);
    expect(lines.every((l) => l.action === 'cli:user disable')).toBe(true);
    await page.close();
  });
});
