import postgres from 'postgres';
import type { Browser, BrowserContext } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { launchChromium } from '../helpers/browser';
import { trpcMutation } from '../helpers/demo-session';
import { appUrl as appUrlOf, artifact, demoAccounts, projectWith, signIn, type TAccount } from '../helpers/e2e-app';

const appUrl = appUrlOf();
const slug = 'annotator-stats';
const strengths = ['significantly_better', 'better', 'slightly_better', 'marginally_better'] as const;

type TLeaseItem = { handle: string; responses: { messages: { content: string }[] }[] };

const lines = Array.from({ length: 30 }, (_, i) => ({
  id: `s${i}`,
  prompt: `Question ${i}: what is ${i} + ${i}?`,
  responses: [
    { content: `The answer is ${2 * i}.`, model: 'right-1b' },
    { content: `The answer is ${2 * i + 1}.`, model: 'wrong-1b' },
  ],
}));

/** Judges up to `count` comparisons through the API: `choose` returns the shown position picked. */
async function judge(context: BrowserContext, count: number, choose: (item: TLeaseItem, n: number) => { position: number; strength: (typeof strengths)[number]; ms: number }) {
  for (let n = 0; n < count; n++) {
    const { items } = await trpcMutation<{ items: TLeaseItem[] }>(context.request, appUrl, 'annotation.lease', { project: slug, want: 1 });
    const item = items[0];
    if (!item) return;
    const { position, strength, ms } = choose(item, n);
    await trpcMutation(context.request, appUrl, 'annotation.submit', { handle: item.handle, clientSubmissionId: crypto.randomUUID(), chosenPosition: position, strength, timeSpentMs: ms });
  }
}

/** The shown position of the correct answer (the even sum). */
const rightAt = (item: TLeaseItem) => item.responses.findIndex((r) => Number(/(\d+)\.$/.exec(r.messages[0]!.content)![1]) % 2 === 0);

describe('annotator analytics', () => {
  let browser: Browser;
  let admin: TAccount;
  let hasty: TAccount;
  let careful: TAccount;

  beforeAll(async () => {
    browser = await launchChromium();
    [admin, hasty, careful] = demoAccounts() as [TAccount, TAccount, TAccount];
    await projectWith(slug, ['--judgments', '2'], lines);
    // hasty: always the left response, always "better", 1.5 s each; leaves five comparisons for later.
    // careful: the right answer, strengths in turn, 9-20 s each.
    for (const [account, count, choose] of [
      [hasty, 25, () => ({ position: 0, strength: 'better' as const, ms: 1500 })],
      [careful, 30, (item: TLeaseItem, n: number) => ({ position: rightAt(item), strength: strengths[n % 4]!, ms: 9000 + 400 * n })],
    ] as const) {
      const context = await browser.newContext();
      await signIn(await context.newPage(), account);
      await judge(context, count, choose);
      await context.close();
    }
    // Spread the judgments over the last two weeks, so the per-day charts have a shape.
    const databaseUrl = inject('appDatabaseUrl');
    if (databaseUrl) {
      const sql = postgres(databaseUrl, { max: 1, onnotice: () => {} });
      await sql`update judgments j set created_at = j.created_at - ((j.id * 7) % 13) * interval '1 day'
        from projects p where p.id = j.project_id and p.slug = ${slug} and j.id % 3 <> 0`;
      await sql.end();
    }
  });

  afterAll(async () => {
    await browser?.close();
  });

  it("shows an annotator their own figures, with a note on a side habit", async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 900 } });
    const page = await context.newPage();
    await signIn(page, hasty);
    await page.goto(`${appUrl}/annotate/${slug}`);
    await page.getByRole('button', { name: 'My stats' }).click();
    const panel = page.getByRole('region', { name: 'My stats' });
    await expect.poll(() => panel.getByTestId('my-left-rate').textContent(), { timeout: 30_000 }).toContain('100%');
    expect(await panel.getByTestId('my-left-rate').textContent()).toContain('of 25 pairs');
    expect(await panel.getByTestId('my-median').textContent()).toBe('1.5 s');
    const notes = await panel.getByRole('note').allTextContents();
    expect(notes.some((n) => n.includes('far from half'))).toBe(true);
    expect(notes.some((n) => n.includes('same strength'))).toBe(true);
    expect(notes.some((n) => n.includes('read both responses'))).toBe(true);
    // Nothing about the other annotator.
    expect(await panel.textContent()).not.toContain(careful.email);
    await panel.locator('canvas').nth(1).waitFor();
    expect(await panel.locator('canvas').count()).toBe(2);
    await page.waitForTimeout(300);
    await page.screenshot({ path: artifact('my-stats.png') });
    await panel.screenshot({ path: artifact('my-stats-panel.png') });
    await context.close();
  });

  it('shows the admin every annotator, sortable, with anomaly badges and per-annotator charts', async () => {
    const context = await browser.newContext({ viewport: { width: 1400, height: 1000 } });
    const page = await context.newPage();
    await signIn(page, admin);
    await page.goto(`${appUrl}/admin/projects/${slug}`);
    const table = page.getByRole('region', { name: 'Annotators' });
    const hastyRow = table.locator(`tr[data-annotator="${hasty.email}"]`);
    await hastyRow.waitFor({ timeout: 30_000 });
    expect((await hastyRow.locator('[data-flag]').evaluateAll((els) => els.map((e) => e.getAttribute('data-flag')))).sort()).toEqual(['same_side', 'same_strength', 'too_fast']);
    expect(await table.locator(`tr[data-annotator="${careful.email}"] [data-flag]`).count()).toBe(0);

    // Flagged first; then by median time, slowest first, and again for fastest first.
    const firstEmail = () => table.locator('tbody tr[data-annotator]').first().getAttribute('data-annotator');
    expect(await firstEmail()).toBe(hasty.email);
    await table.getByRole('button', { name: 'Median time' }).click();
    expect(await firstEmail()).toBe(careful.email);
    await table.getByRole('button', { name: 'Median time' }).click();
    expect(await firstEmail()).toBe(hasty.email);
    expect(await table.locator('th[aria-sort="ascending"]').textContent()).toContain('Median time');

    await table.getByRole('button', { name: hasty.email }).click();
    await table.locator('canvas').nth(1).waitFor();
    await page.waitForTimeout(300);
    await table.screenshot({ path: artifact('annotators-table.png') });
    await context.close();
  });
});
