import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser';
import { appUrl, artifact, cli, demoAccounts, exportLines, signIn, signOut, type TAccount } from '../helpers/e2e-app';
import { startFakeOpenAi, type TFakeOpenAi } from '../helpers/fake-openai';

const slug = 'live-e2e';
// Registry names are for admins only; the fake's answers quote the API model names instead.
const ALPHA = { name: 'e2e-registry-alpha', apiModel: 'fake-alpha' };
const BRAVO = { name: 'e2e-registry-bravo', apiModel: 'fake-bravo' };

interface TTrlRow {
  prompt: { role: string; content: string }[];
  chosen: { role: string; content: string }[];
  rejected: { role: string; content: string }[];
}

/** Text of a response region (streaming or judging), as the annotator reads it. */
async function regionText(page: Page, letter: 'A' | 'B'): Promise<string> {
  return (await page.getByRole('region', { name: `Response ${letter}` }).locator('.markdown').innerText()).trim();
}

/** Sends a message and waits until both answers streamed in and the judging controls are up. */
async function sendAndWaitForJudging(page: Page, message: string, how: 'click' | 'enter') {
  await page.getByLabel('Your message').fill(message);
  if (how === 'click') await page.getByRole('button', { name: 'Send' }).click();
  else await page.getByLabel('Your message').press('Enter');
  // Streaming is visible: some text in a region that is still being written.
  await page.waitForFunction(() => [...document.querySelectorAll('[data-status="streaming"] .markdown')].some((el) => (el.textContent ?? '').length > 0), undefined, { timeout: 20_000 });
  await page.locator('main[data-live-phase="judging"]').waitFor({ timeout: 20_000 });
}

describe('live generation in the browser', () => {
  let browser: Browser;
  let fake: TFakeOpenAi;
  let accounts: TAccount[];

  beforeAll(async () => {
    // Slow enough chunks that the answers visibly stream.
    fake = await startFakeOpenAi({ chunkDelayMs: 150 });
    browser = await launchChromium();
    accounts = demoAccounts();
    await cli(['project', 'create', '--slug', slug, '--name', 'Live chat', '--live']);
    for (const account of accounts) await cli(['member', 'add', '--project', slug, '--email', account.email, '--role', account.role]);
    await cli(['model', 'add', '--name', ALPHA.name, '--base-url', fake.baseUrl, '--model', ALPHA.apiModel, '--temperature', '0.6', '--max-tokens', '256']);
  });

  afterAll(async () => {
    await browser?.close();
    await fake?.close();
  });

  it('lets an admin register a model and choose the live models, without ever showing a key', async () => {
    const page = await browser.newPage();
    await signIn(page, accounts[0]!);
    await page.goto(`${appUrl()}/admin/models`);
    await page.getByLabel('Name').fill(BRAVO.name);
    await page.getByLabel('Base URL').fill(fake.baseUrl);
    await page.getByLabel('API model').fill(BRAVO.apiModel);
    await page.getByLabel('Temperature').fill('1.1');
    await page.getByRole('button', { name: 'Register' }).click();
    await expect.poll(() => page.getByRole('status').textContent(), { timeout: 10_000 }).toContain(`Registered ${BRAVO.name}`);
    await page.getByRole('cell', { name: BRAVO.name }).waitFor();
    await page.getByRole('cell', { name: ALPHA.name }).waitFor();
    await page.screenshot({ path: artifact('live-models-admin.png'), fullPage: true });

    await page.goto(`${appUrl()}/admin/projects/${slug}`);
    const section = page.getByRole('region', { name: 'Live models' });
    await section.getByLabel(new RegExp(ALPHA.name)).check();
    await section.getByLabel(new RegExp(BRAVO.name)).check();
    await section.getByRole('button', { name: 'Save live models' }).click();
    await section.getByRole('status').filter({ hasText: 'Saved.' }).waitFor();
    await section.screenshot({ path: artifact('live-project-admin.png') });
    await signOut(page);
    await page.close();
  });

  it('runs the live flow with the fake endpoint over two turns, judged with the keyboard', async () => {
    const page = await browser.newPage();
    await signIn(page, accounts[1]!);
    await page.goto(`${appUrl()}/annotate/${slug}`);
    const before = fake.requests.length;

    // Turn 1: both answers stream in side by side, then the annotator judges with the keyboard.
    await sendAndWaitForJudging(page, 'What is the capital of France?', 'click');
    const first = { a: await regionText(page, 'A'), b: await regionText(page, 'B') };
    expect([first.a, first.b].sort()).toEqual([fake.replyFor('fake-alpha', 'What is the capital of France?'), fake.replyFor('fake-bravo', 'What is the capital of France?')]);
    await page.keyboard.press('ArrowLeft');
    await page.keyboard.press('2');
    await page.keyboard.press('Enter');

    // The composer comes back, on top of the chosen answer.
    await page.getByRole('heading', { name: 'Next message' }).waitFor({ timeout: 10_000 });
    const conversation = page.getByRole('region', { name: 'Conversation' });
    await expect.poll(() => conversation.innerText()).toContain(first.a);
    expect(await conversation.innerText()).not.toContain(first.b);

    // Turn 2, sent with Enter; its prompt is the whole conversation.
    await page.getByLabel('Your message').fill('And of Germany?');
    await page.getByLabel('Your message').press('Enter');
    await page.waitForFunction(() => [...document.querySelectorAll('[data-status="streaming"] .markdown')].some((el) => (el.textContent ?? '').length > 0), undefined, { timeout: 20_000 });
    await page.screenshot({ path: artifact('live-streaming.png'), fullPage: true });
    await page.locator('main[data-live-phase="judging"]').waitFor({ timeout: 20_000 });
    const second = { a: await regionText(page, 'A'), b: await regionText(page, 'B') };
    await page.keyboard.press('b');
    await page.keyboard.press('1');
    await page.screenshot({ path: artifact('live.png'), fullPage: true });
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'Next message' }).waitFor({ timeout: 10_000 });

    // The models received the conversation, the second time with the chosen first answer in it.
    const sent = fake.requests.slice(before);
    expect(sent).toHaveLength(4);
    for (const request of sent.slice(2)) {
      expect(request.body.messages).toEqual([
        { role: 'user', content: 'What is the capital of France?' },
        { role: 'assistant', content: first.a },
        { role: 'user', content: 'And of Germany?' },
      ]);
    }
    const alphaRequest = sent.find((r) => r.body.model === 'fake-alpha')!;
    expect(alphaRequest.body).toMatchObject({ stream: true, temperature: 0.6, max_tokens: 256 });

    // Annotators never see which model answered.
    const html = await page.content();
    expect(html).not.toContain(ALPHA.name);
    expect(html).not.toContain(BRAVO.name);

    // Two comparisons in the export, the second prompt continuing from the first chosen answer.
    const rows = await exportLines<TTrlRow>(slug);
    expect(rows).toHaveLength(2);
    const [one, two] = [rows.find((r) => r.prompt.length === 1)!, rows.find((r) => r.prompt.length === 3)!];
    expect(one.chosen[0]!.content).toBe(first.a);
    expect(one.rejected[0]!.content).toBe(first.b);
    expect(two.prompt[1]).toEqual({ role: 'assistant', content: one.chosen[0]!.content });
    expect(two.chosen[0]!.content).toBe(second.b);
    await page.close();
  });

  it('shows an endpoint error with a retry that keeps the prompt and the other answer, and resumes after a reload', async () => {
    const page = await browser.newPage();
    await signIn(page, accounts[2]!);
    await page.goto(`${appUrl()}/annotate/${slug}`);
    fake.failNext(1, 503, 'the GPU is busy');
    await page.getByLabel('Your message').fill('Tell me a joke.');
    await page.getByRole('button', { name: 'Send' }).click();

    const alert = page.getByRole('alert').filter({ hasText: 'The model endpoint answered 503: the GPU is busy' });
    await alert.waitFor({ timeout: 20_000 });
    await page.locator('[data-status="done"]').waitFor({ timeout: 20_000 });
    const kept = (await page.locator('[data-status="done"] .markdown').innerText()).trim();
    expect(kept).toMatch(/reply to: Tell me a joke\.$/);
    await page.screenshot({ path: artifact('live-error.png'), fullPage: true });
    expect(await page.getByRole('region', { name: 'Conversation' }).innerText()).toContain('Tell me a joke.');

    const requests = fake.requests.length;
    await alert.getByRole('button', { name: 'Retry' }).click();
    await page.locator('main[data-live-phase="judging"]').waitFor({ timeout: 20_000 });
    // Only the failed side asked its model again.
    expect(fake.requests.length).toBe(requests + 1);
    const shown = [await regionText(page, 'A'), await regionText(page, 'B')];
    expect(shown).toContain(kept);

    // A reload while judging brings back the same two answers, without asking the models again.
    await page.reload();
    await page.locator('main[data-live-phase="judging"]').waitFor({ timeout: 20_000 });
    expect([await regionText(page, 'A'), await regionText(page, 'B')]).toEqual(shown);
    expect(fake.requests.length).toBe(requests + 1);
    await page.close();
  });
});
