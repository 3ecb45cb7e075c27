import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../helpers/browser';
import { appUrl as appUrlOf, artifact, cli, demoAccounts, signIn, signOut, type TAccount } from '../helpers/e2e-app';

const appUrl = appUrlOf();

describe('label in the browser, export as an admin', () => {
  let browser: Browser;
  let accounts: TAccount[];
  const slug = 'e2e';

  beforeAll(async () => {
    browser = await launchChromium();
    accounts = demoAccounts();
    expect(accounts.map((a) => a.role)).toEqual(['admin', 'annotator', 'annotator']);
    expect((fs.statSync(path.join(inject('appDataDir'), 'demo-credentials.txt')).mode & 0o777).toString(8)).toBe('600');
    // A project of plain-text comparisons, made with the CLI against the running app's database.
    await cli(['project', 'create', '--slug', slug, '--name', 'End-to-end']);
    for (const account of accounts) await cli(['member', 'add', '--project', slug, '--email', account.email, '--role', account.role]);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('imports through the admin page, labels two pairs by keyboard and one by mouse, and exports them correctly', async () => {
    const [admin, annotator] = [accounts[0]!, accounts[1]!];
    const page = await browser.newPage();

    // Admin uploads the comparisons file in the UI.
    await signIn(page, admin);
    await page.goto(`${appUrl}/admin/projects/${slug}`);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-e2e-')), 'comparisons.jsonl');
    const lines = ['alpha', 'bravo', 'charlie'].map((word) =>
      JSON.stringify({ id: word, prompt: `Say ${word}`, responses: [{ content: `${word} from the first model`, model: 'm1' }, { content: `${word} from the second model`, model: 'm2' }] }),
    );
    fs.writeFileSync(file, lines.join('\n') + '\n');
    await page.getByLabel('Comparisons file').setInputFiles(file);
    await page.getByRole('button', { name: 'Import' }).click();
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 20_000 }).toContain('Imported 3 comparison(s)');
    await signOut(page);

    // The annotator labels two comparisons with the keyboard only.
    await signIn(page, annotator);
    await page.goto(`${appUrl}/annotate/${slug}`);
    const labelled: { chosen: string; rejected: string }[] = [];
    const keys: [string, string][] = [
      ['ArrowLeft', '1'],
      ['b', '2'],
    ];
    for (const [chooseKey, strengthKey] of keys) {
      const regionA = page.getByRole('region', { name: 'Response A' });
      const regionB = page.getByRole('region', { name: 'Response B' });
      await regionA.waitFor();
      if (labelled.length === 0) await page.screenshot({ path: artifact('annotate-plain.png'), fullPage: true });
      const assignment = await page.locator('main[data-assignment]').getAttribute('data-assignment');
      const textA = (await regionA.locator('.markdown').innerText()).trim();
      const textB = (await regionB.locator('.markdown').innerText()).trim();
      await page.keyboard.press(chooseKey);
      await page.keyboard.press(strengthKey);
      await page.keyboard.press('Enter');
      const left = chooseKey === 'ArrowLeft' || chooseKey === 'a';
      labelled.push({ chosen: left ? textA : textB, rejected: left ? textB : textA });
      await page.waitForFunction((previous) => document.querySelector('main[data-assignment]')?.getAttribute('data-assignment') !== previous, assignment);
    }
    await expect.poll(() => page.getByTestId('progress').textContent(), { timeout: 10_000 }).toContain('2 in total');

    // The third with the mouse, then nothing is left: a clear "all done".
    const regionB = page.getByRole('region', { name: 'Response B' });
    const mouseChosen = (await regionB.locator('.markdown').innerText()).trim();
    const mouseRejected = (await page.getByRole('region', { name: 'Response A' }).locator('.markdown').innerText()).trim();
    await regionB.getByRole('button', { name: /B is better/ }).click();
    await page.getByRole('button', { name: /Slightly better/ }).click();
    await page.getByRole('button', { name: /^Submit/ }).click();
    labelled.push({ chosen: mouseChosen, rejected: mouseRejected });
    await page.getByRole('heading', { name: 'All done' }).waitFor();
    await expect.poll(() => page.getByTestId('progress').textContent(), { timeout: 10_000 }).toContain('3 in total');
    await signOut(page);

    // The admin exports; the worker writes the file; both labels are in it the right way round.
    await signIn(page, admin);
    await page.goto(`${appUrl}/admin/projects/${slug}`);
    await page.getByRole('button', { name: 'Export TRL preference JSONL' }).click();
    const download = page.getByRole('link', { name: 'Download' }).first();
    // The worker writes the file: on a loaded two-core machine (web app, worker, browser, PostgreSQL) that has taken over 30 s.
    await download.waitFor({ timeout: 90_000 });
    await page.screenshot({ path: artifact('admin-project.png'), fullPage: true });
    const response = await page.request.get(`${appUrl}${await download.getAttribute('href')}`);
    expect(response.status()).toBe(200);
    const rows = (await response.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { prompt: { content: string }[]; chosen: { content: string }[]; rejected: { content: string }[] });
    expect(rows).toHaveLength(3);
    for (const label of labelled) {
      const row = rows.find((r) => r.chosen[0]!.content === label.chosen);
      expect(row, `no exported row with chosen "${label.chosen}"`).toBeDefined();
      expect(row!.rejected[0]!.content).toBe(label.rejected);
      expect(row!.prompt[0]!.content).toBe(`Say ${label.chosen.split(' ')[0]}`);
    }
    await page.close();
  });

  it('shows the demo project with rendered markdown and no raw HTML from model output', async () => {
    const page = await browser.newPage();
    const dialogs: string[] = [];
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    await signIn(page, accounts[2]!);
    await page.goto(`${appUrl}/annotate/demo`);
    await page.getByRole('region', { name: 'Response A' }).waitFor();
    await page.keyboard.press('b');
    await page.keyboard.press('2');
    await page.screenshot({ path: artifact('annotate-demo.png'), fullPage: true });
    // Every response of the demo set rendered so far is markdown inside the regions; no script elements came from content.
    const scriptsInContent = await page.locator('[role=region] script, [role=region] iframe, [role=region] img').count();
    expect(scriptsInContent).toBe(0);
    expect(dialogs).toEqual([]);
    await page.close();
  });

  it('refuses the admin page to an annotator and sends signed-out visitors to sign in', async () => {
    const page = await browser.newPage();
    await page.goto(`${appUrl}/annotate/demo`);
    await page.waitForURL(/\/signin\?callbackUrl=/);
    await signIn(page, accounts[1]!);
    const res = await page.goto(`${appUrl}/admin/projects/demo`);
    expect(res?.status()).toBe(404);
    const health = await page.request.get(`${appUrl}/api/health`);
    expect(await health.json()).toMatchObject({ status: 'ok', database: { status: 'ok' } });
    await page.close();
  });
});
