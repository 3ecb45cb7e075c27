import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser';
import { trpcMutation } from '../helpers/demo-session';
import { appUrl as appUrlOf, artifact, demoAccounts, projectWith, signIn, signOut, type TAccount } from '../helpers/e2e-app';

const appUrl = appUrlOf();
const slug = 'sets';
const strengths = ['significantly_better', 'better', 'slightly_better', 'marginally_better'] as const;
/** A version name is untrusted text: it must show as these characters, never as markup. */
const hostileName = 'rm <img src=x onerror=alert(1)> round 1';

type TLeaseItem = { handle: string; responses: { messages: { content: string }[] }[] };

/** Eight comparisons of two models; every answer names its model. */
const comparisons = Array.from({ length: 8 }, (_, i) => ({
  id: `s${i}`,
  prompt: `Question number ${i}: what is ${i} + ${i}?`,
  responses: [
    { content: `alpha-7b says ${2 * i}, and shows the working.`, model: 'alpha-7b' },
    { content: `beta-7b says ${2 * i + 1}.`, model: 'beta-7b' },
  ],
}));

/** The annotator prefers alpha-7b every time, with the four strengths in turn: two of each. */
async function judgeAll(context: BrowserContext): Promise<number> {
  let n = 0;
  for (; n < 20; n++) {
    const { items } = await trpcMutation<{ items: TLeaseItem[] }>(context.request, appUrl, 'annotation.lease', { project: slug, want: 1 });
    const item = items[0];
    if (!item) break;
    const alpha = item.responses[0]!.messages[0]!.content.startsWith('alpha-7b') ? 0 : 1;
    await trpcMutation(context.request, appUrl, 'annotation.submit', {
      handle: item.handle,
      clientSubmissionId: crypto.randomUUID(),
      chosenPosition: alpha,
      strength: strengths[n % 4],
      timeSpentMs: 4000,
    });
  }
  return n;
}

async function statValue(page: Page, label: string): Promise<number> {
  const text = await page.locator(`[data-stat="${label}"] .text-2xl`).textContent();
  return Number((text ?? '').replace(/[^\d]/g, ''));
}

describe('dataset versions in the admin UI', () => {
  let browser: Browser;
  let accounts: TAccount[];

  beforeAll(async () => {
    browser = await launchChromium();
    accounts = demoAccounts();
    await projectWith(slug, [], comparisons);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('builds a version with the Llama 3 defaults through the form, follows it to succeeded, and downloads its pairs', async () => {
    const [admin, annotator] = [accounts[0]!, accounts[1]!];
    const annotatorContext = await browser.newContext();
    await signIn(await annotatorContext.newPage(), annotator);
    expect(await judgeAll(annotatorContext)).toBe(8);
    await annotatorContext.close();

    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    const dialogs: string[] = [];
    page.on('dialog', async (d) => {
      dialogs.push(d.message());
      await d.dismiss();
    });
    await signIn(page, admin);

    // From the project's admin page to its versions: the project is chosen in the form already.
    await page.goto(`${appUrl}/admin/projects/${slug}`);
    await page.getByRole('main').getByRole('link', { name: 'Datasets', exact: true }).click();
    await page.waitForURL(`${appUrl}/admin/datasets?project=${slug}`);
    const form = page.getByRole('region', { name: 'Build a version' });
    await expect.poll(() => form.getByRole('checkbox', { name: slug }).isChecked()).toBe(true);
    expect(await page.getByLabel('Minimum strength').inputValue()).toBe('better');
    expect(await page.getByLabel('Drop similar responses').inputValue()).toBe('marginally_better');
    expect(await page.getByLabel('Test fraction').inputValue()).toBe('0.05');

    // The preview is the spec that is sent.
    await page.getByText('Spec: the JSON this form sends').click();
    const preview = JSON.parse((await page.getByLabel('Spec JSON').textContent()) ?? '{}') as Record<string, unknown>;
    expect(preview).toMatchObject({ projects: [slug], minStrength: 'better', dropSimilar: 'marginally_better', keepUnrated: true, testFraction: 0.05, splitSeed: 'pairwise' });

    // A value the server refuses comes back next to its field.
    await page.getByLabel('Name', { exact: true }).fill(hostileName);
    await page.getByLabel('Test fraction').fill('0.9');
    await page.getByRole('button', { name: 'Build version' }).click();
    const fieldError = page.locator('[data-field="testFraction"] [role="alert"]');
    await fieldError.waitFor();
    expect(await fieldError.textContent()).toMatch(/0\.5/);
    expect(await page.getByTestId('build-error').textContent()).toContain('spec.testFraction');
    await page.getByLabel('Test fraction').fill('0.25');
    await page.getByRole('button', { name: 'Build version' }).click();
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 10_000 }).toMatch(/Queued version #\d+/);

    // The worker builds it; the list follows by itself.
    const row = page.locator('tr[data-version]').first();
    await expect.poll(() => row.getAttribute('data-version-status'), { timeout: 60_000 }).toBe('succeeded');
    expect(await row.getByRole('link').textContent()).toBe(hostileName);
    expect(await row.textContent()).toMatch(/4 \(\d \/ \d\)/);
    await page.screenshot({ path: artifact('datasets-list.png'), fullPage: true });

    // The detail page: counts, what was dropped, charts, downloads.
    await row.getByRole('link').click();
    await page.waitForURL(/\/admin\/datasets\/\d+$/);
    const versionId = Number(page.url().split('/').pop());
    await page.locator('main[data-version-status="succeeded"]').waitFor();
    expect(await page.getByRole('heading', { level: 1 }).textContent()).toBe(hostileName);
    expect(await statValue(page, 'Pairs')).toBe(4);
    expect((await statValue(page, 'Train pairs')) + (await statValue(page, 'Test pairs'))).toBe(4);
    expect(await statValue(page, 'Judgments')).toBe(4);
    const dropped = page.getByRole('table', { name: 'Dropped pairs' });
    expect(await dropped.locator('tr').first().locator('td').last().textContent()).toBe('4');
    expect(await page.getByRole('img', { name: /^Pairs by strength: Significantly better 2, Better 2, Slightly better 0, Marginally better 0/ }).count()).toBe(1);
    expect(await page.getByRole('img', { name: 'Wins by model: alpha-7b 4' }).count()).toBe(1);
    expect(await page.getByTestId('content-hash').textContent()).toMatch(/^[0-9a-f]{64}$/);
    expect(await page.getByLabel('CLI command').textContent()).toBe(`npm run cli -- dataset export --version ${versionId} --format trl --split train --out rm-img-src-x-onerror-alert-1-round-1-v${versionId}-train.trl.jsonl`);
    expect(await page.getByLabel('REST URL').textContent()).toBe(`${appUrl}/api/v1/datasets/${versionId}/download?format=trl&split=train`);
    await page.screenshot({ path: artifact('dataset-version.png'), fullPage: true });

    const href = await page.getByRole('link', { name: 'Download trl all' }).getAttribute('href');
    expect(href).toBe(`/api/datasets/${versionId}/download?format=trl&split=all`);
    const response = await page.request.get(`${appUrl}${href}`);
    expect(response.status()).toBe(200);
    expect(response.headers()['content-type']).toContain('application/x-ndjson');
    expect(response.headers()['content-disposition']).toBe(`attachment; filename="rm-img-src-x-onerror-alert-1-round-1-v${versionId}-all.trl.jsonl"`);
    const lines = (await response.text())
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { chosen: { content: string }[]; rejected: { content: string }[]; metadata: { strength: string } });
    expect(lines).toHaveLength(4);
    for (const line of lines) {
      expect(line.chosen[0]!.content).toMatch(/^alpha-7b says/);
      expect(line.rejected[0]!.content).toMatch(/^beta-7b says/);
      expect(['significantly_better', 'better']).toContain(line.metadata.strength);
    }
    const sft = await page.request.get(`${appUrl}/api/datasets/${versionId}/download?format=sft&split=all`);
    expect((await sft.text()).trim().split('\n')).toHaveLength(4);
    expect((await page.request.get(`${appUrl}/api/datasets/${versionId}/download?format=nope`)).status()).toBe(400);

    // A selection that keeps nothing says so plainly.
    await page.goto(`${appUrl}/admin/datasets?project=${slug}`);
    await page.getByLabel('Name', { exact: true }).fill('nobody');
    await page.getByLabel('Models').fill('gamma-7b');
    await page.getByRole('button', { name: 'Build version' }).click();
    const empty = page.locator('tr[data-version]', { hasText: 'nobody' });
    await expect.poll(() => empty.getAttribute('data-version-status'), { timeout: 60_000 }).toBe('succeeded');
    await empty.getByRole('link', { name: 'nobody' }).click();
    await page.locator('main[data-version-status="succeeded"]').waitFor();
    expect(await page.getByRole('status').textContent()).toContain('The selection was empty');
    expect(dialogs).toEqual([]);
    await signOut(page);

    // An annotator sees neither the page nor the files.
    await signIn(page, annotator);
    expect((await page.goto(`${appUrl}/admin/datasets`))?.status()).toBe(404);
    expect((await page.goto(`${appUrl}/admin/datasets/${versionId}`))?.status()).toBe(404);
    expect((await page.request.get(`${appUrl}${href}`)).status()).toBe(404);
    await context.close();
  });
});
