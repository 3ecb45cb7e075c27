import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser';
import { appUrl, artifact, cli, demoAccounts, projectWith, signIn, type TAccount } from '../helpers/e2e-app';

const slug = 'review-conflict';
const right = 'Water boils at 100 °C (212 °F) at sea level.';
const wrong = 'Water boils at 90 °C at sea level.';

/** Judges the project's only comparison in the browser: the response reading `text`, with strength key `strength`. */
async function judge(page: Page, text: string, strength: string) {
  await page.goto(`${appUrl()}/annotate/${slug}`);
  const regionA = page.getByRole('region', { name: 'Response A' });
  await regionA.waitFor();
  const textA = (await regionA.locator('.markdown').innerText()).trim();
  await page.keyboard.press(textA === text ? 'a' : 'b');
  await page.keyboard.press(strength);
  await page.keyboard.press('Enter');
  await page.getByRole('heading', { name: 'All done' }).waitFor();
}

describe('reviewing a conflict in the browser', () => {
  let browser: Browser;
  let admin: TAccount;
  let annotator1: TAccount;
  let annotator2: TAccount;

  beforeAll(async () => {
    browser = await launchChromium();
    const accounts = demoAccounts();
    admin = accounts.find((a) => a.role === 'admin')!;
    annotator1 = accounts.find((a) => a.email.startsWith('annotator1'))!;
    annotator2 = accounts.find((a) => a.email.startsWith('annotator2'))!;
    await projectWith(slug, ['--judgments', '2'], [
      { id: 'boil', prompt: 'At what temperature does water boil at sea level?', responses: [{ content: right, model: 'm1' }, { content: wrong, model: 'm2' }] },
    ]);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('two annotators disagree; a reviewer sees the conflict and corrects it with the keyboard; the admin sees the outcome', async () => {
    // Each account in its own browser context (newPage makes one), so nobody signs out.
    const page1 = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await signIn(page1, annotator1);
    await judge(page1, wrong, '2');
    const page2 = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await signIn(page2, annotator2);
    await judge(page2, right, '1');

    // Annotators have no review link and no review page.
    await page2.goto(`${appUrl()}/projects`);
    const row = page2.getByRole('listitem').filter({ hasText: slug });
    expect(await row.getByRole('link', { name: 'Review' }).count()).toBe(0);
    const refused = await page2.goto(`${appUrl()}/review/${slug}`);
    expect(refused?.status()).toBe(404);

    // annotator2 becomes a reviewer in this project.
    await cli(['member', 'add', '--project', slug, '--email', annotator2.email, '--role', 'reviewer']);
    await page2.goto(`${appUrl()}/projects`);
    await row.getByRole('link', { name: 'Review' }).click();
    await page2.waitForURL(new RegExp(`/review/${slug}$`));

    // Only annotator1's judgment: never the reviewer's own.
    const reasons = page2.getByTestId('reasons');
    await reasons.waitFor();
    expect(await reasons.innerText()).toContain('Conflict');
    expect(await page2.getByText(`Judged by ${annotator1.email}`).isVisible()).toBe(true);
    expect((await page2.getByTestId('votes').innerText()).trim()).toBe('Votes 1 – 1');
    expect(await page2.getByText('At what temperature does water boil at sea level?').isVisible()).toBe(true);
    const first = page2.getByRole('region', { name: 'First response' });
    const second = page2.getByRole('region', { name: 'Second response' });
    expect((await first.locator('.markdown').innerText()).trim()).toBe(right);
    expect((await second.locator('.markdown').innerText()).trim()).toBe(wrong);
    // annotator1 chose the wrong, second response, "better".
    expect(await second.getAttribute('data-annotator-choice')).toBe('true');
    expect(await second.getByText('Annotator’s choice · Better').isVisible()).toBe(true);
    // Model names stay hidden from reviewers too.
    expect(await page2.locator('main').innerText()).not.toMatch(/\bm1\b|\bm2\b/);

    // Correct: C, the first response (←), significantly better (1); Enter confirms.
    const confirm = page2.getByRole('button', { name: /^Confirm/ });
    await page2.keyboard.press('c');
    expect(await confirm.isDisabled()).toBe(true);
    await page2.keyboard.press('ArrowLeft');
    await page2.keyboard.press('1');
    await first.getByText('Your correction · Significantly better').waitFor();
    expect(await confirm.isEnabled()).toBe(true);
    await page2.screenshot({ path: artifact('review.png'), fullPage: true });
    await page2.keyboard.press('Enter');
    await page2.getByRole('heading', { name: 'Queue empty' }).waitFor();
    await expect.poll(() => page2.getByTestId('review-progress').innerText()).toContain('1 reviewed this session');

    // The admin sees the correction, the settled conflict and annotator1's outcome.
    const adminPage = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await signIn(adminPage, admin);
    await adminPage.goto(`${appUrl()}/admin/projects/${slug}`);
    const figures = adminPage.getByTestId('review-figures');
    await figures.waitFor();
    const text = await figures.innerText();
    expect(text).toMatch(/Reviewed\s+1 \/ 2\s+50%/);
    expect(text).toMatch(/Corrected\s+1\s+100%/);
    expect(text).toMatch(/Conflicts\s+0/);
    const outcome = adminPage.getByTestId('annotator-outcomes').getByRole('row').filter({ hasText: annotator1.email });
    expect((await outcome.getByRole('cell').allInnerTexts()).map((t) => t.trim())).toEqual([annotator1.email, '1', '1', '0', '0', '1', '0%']);
    const decision = adminPage.locator('[data-decision="correct"]');
    expect(await decision.innerText()).toContain(`${annotator2.email} corrected judgment`);
    expect(await decision.innerText()).toContain('(second, better → first, significantly better)');
    await adminPage.getByRole('region', { name: 'Review', exact: true }).screenshot({ path: artifact('review-admin.png') });
  });
});
