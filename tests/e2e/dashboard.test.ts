import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import postgres from 'postgres';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../helpers/browser';
import { trpcMutation } from '../helpers/demo-session';
import { appUrl as appUrlOf, artifact, cli, demoAccounts, signIn, type TAccount } from '../helpers/e2e-app';

const appUrl = appUrlOf();
const slug = 'dash';
const models = ['alpha-8b', 'beta-8b', 'gamma-8b'] as const;
const strengths = ['significantly_better', 'better', 'slightly_better', 'marginally_better'] as const;

type TLeaseItem = { handle: string; responses: { messages: { content: string }[] }[] };

/** 24 comparisons between three models, every answer saying who wrote it; two topics. */
function comparisonLines(): string[] {
  const pairs = [
    [0, 1],
    [1, 2],
    [0, 2],
  ] as const;
  return Array.from({ length: 24 }, (_, i) => {
    const [a, b] = pairs[i % 3]!;
    const topic = i % 4 === 0 ? 'coding' : 'general';
    const prompt = topic === 'coding' ? `Write a function that adds the numbers ${i} and ${i + 1}, and explain it.` : `Tell me a short story about the number ${i}.`;
    return JSON.stringify({
      id: `d${i}`,
      prompt,
      responses: [
        { content: `Answer ${i} by ${models[a]}: ${'a fairly long answer with details. '.repeat(1 + (i % 5))}`, model: models[a] },
        { content: `Answer ${i} by ${models[b]}: ${'a shorter answer. '.repeat(1 + (i % 3))}`, model: models[b] },
      ],
      metadata: { topic },
    });
  });
}

describe('the project dashboard', () => {
  let browser: Browser;
  let accounts: TAccount[];

  beforeAll(async () => {
    browser = await launchChromium();
    accounts = demoAccounts();
    await cli(['project', 'create', '--slug', slug, '--name', 'Dashboard', '--judgments', '2']);
    for (const account of accounts) await cli(['member', 'add', '--project', slug, '--email', account.email, '--role', account.role]);
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** An annotator judges everything they are given: the earlier model wins, the second annotator disagrees now and then. */
  async function judgeAll(context: BrowserContext, disagreeEvery: number) {
    for (let n = 0; n < 100; n++) {
      const { items } = await trpcMutation<{ items: TLeaseItem[] }>(context.request, appUrl, 'annotation.lease', { project: slug, want: 1 });
      const item = items[0];
      if (!item) return;
      const rank = (position: number) => models.findIndex((m) => item.responses[position]!.messages[0]!.content.includes(`by ${m}:`));
      let chosen = rank(0) < rank(1) ? 0 : 1;
      if (disagreeEvery && n % disagreeEvery === disagreeEvery - 1) chosen = 1 - chosen;
      await trpcMutation(context.request, appUrl, 'annotation.submit', {
        handle: item.handle,
        clientSubmissionId: crypto.randomUUID(),
        chosenPosition: chosen,
        strength: strengths[n % 7 < 3 ? 1 : n % 7 < 5 ? 0 : n % 7 < 6 ? 2 : 3],
        timeSpentMs: 5000,
      });
    }
  }

  it('shows progress, activity, strengths, agreement, win rates and the data table, counting tokens after an upload', async () => {
    const [admin, first, second] = accounts as [TAccount, TAccount, TAccount];
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();

    // The admin uploads the comparisons: the upload queues the count-tokens job.
    await signIn(page, admin);
    await page.goto(`${appUrl}/admin/projects/${slug}`);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-e2e-')), 'dashboard.jsonl');
    fs.writeFileSync(file, comparisonLines().join('\n') + '\n');
    await page.getByLabel('Comparisons file').setInputFiles(file);
    await page.getByRole('button', { name: 'Import' }).click();
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 20_000 }).toContain('Imported 24 comparison(s)');

    // Two annotators judge every comparison.
    for (const [account, disagreeEvery] of [
      [first, 0],
      [second, 4],
    ] as const) {
      const annotatorContext = await browser.newContext();
      const annotatorPage = await annotatorContext.newPage();
      await signIn(annotatorPage, account);
      await judgeAll(annotatorContext, disagreeEvery);
      await annotatorContext.close();
    }

    // Spread the judgments over five weeks (both judgments of a comparison on the same day),
    // so the per-day and weekly charts have a shape. Needs the app's database URL.
    const databaseUrl = inject('appDatabaseUrl');
    const sql = databaseUrl ? postgres(databaseUrl, { max: 1, onnotice: () => {} }) : null;
    try {
      if (sql) {
        await sql`update judgments j set created_at = j.created_at - ((j.comparison_id % 12) * 3) * interval '1 day'
          from projects p where p.id = j.project_id and p.slug = ${slug}`;
      }

      await page.getByRole('link', { name: 'Dashboard' }).click();
      await page.waitForURL(`${appUrl}/admin/projects/${slug}/quality`);
      await page.locator('main[data-dashboard-ready="true"]').waitFor({ timeout: 60_000 });
      for (const title of ['Project progress', 'Judgments per day', 'Strength distribution', 'Agreement over time', 'Agreement', 'Models']) {
        expect(await page.getByRole('region', { name: title, exact: true }).count(), title).toBe(1);
      }
      expect(await page.locator('canvas').count()).toBe(4);
      // 48 of 48 judgments: done.
      await expect.poll(() => page.getByRole('region', { name: 'Project progress' }).textContent()).toContain('48 of 48 judgments required');
      const winRates = page.getByRole('table', { name: 'Win rates: row model against column model' });
      expect(await winRates.locator('tbody tr').count()).toBe(3);
      expect(await winRates.locator('tbody tr').first().locator('th').textContent()).toBe('alpha-8b');

      // The worker counted the uploaded rows without anyone asking.
      const dataStats = page.getByRole('region', { name: 'Data statistics' });
      const status = dataStats.getByRole('status');
      await expect
        .poll(
          async () => {
            const text = await status.textContent();
            if (!text?.includes('Every prompt')) await page.reload();
            return text;
          },
          { timeout: 30_000, interval: 1000 },
        )
        .toContain('Every prompt and response is counted.');
      await page.locator('main[data-dashboard-ready="true"]').waitFor();
      expect(await dataStats.textContent()).toContain('Approximate token counts');
      const totalRow = dataStats.locator('tbody tr').last();
      expect(await totalRow.locator('td').allTextContents()).toEqual(['Total', '24', '100.0%', '1.0', expect.stringMatching(/^\d+\.\d$/), expect.stringMatching(/^\d+\.\d$/), expect.stringMatching(/^\d+\.\d$/)]);
      expect(await dataStats.locator('tbody tr').first().locator('td').first().textContent()).toBe('general');

      // "Count tokens" fills what is missing (here: counts wiped behind the app's back).
      if (sql) {
        await sql`update responses r set token_count = null from prompts p, projects j
          where p.id = r.prompt_id and j.id = p.project_id and j.slug = ${slug}`;
        await page.reload();
        await expect.poll(() => status.textContent()).toContain('48 response(s) not counted yet');
        await page.getByRole('button', { name: 'Count tokens' }).click();
        await expect.poll(() => status.textContent(), { timeout: 30_000 }).toContain('Every prompt and response is counted.');
      }
      await page.screenshot({ path: artifact('dashboard.png'), fullPage: true });
    } finally {
      await sql?.end();
      await context.close();
    }
  });
});
