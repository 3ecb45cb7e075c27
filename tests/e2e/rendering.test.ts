/**
 * Responses are shown as the model wrote them: items whose meaning lives in single line breaks
 * (an ABC-notation melody with one header per line, a poem, a task statement whose lines
 * CommonMark would join into one), the project's own, and the real arena-hard ones from
 * ../shared/data where it is present. The annotator sees each line on its own, code blocks stay
 * code, and "Raw text" shows the exact characters.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser';
import { appUrl, artifact, cli, demoAccounts, signIn } from '../helpers/e2e-app';

const slug = 'rendering';

interface TCase {
  id: string;
  prompt: string;
  answers: [string, string];
  /** Lines the prompt must show, in order, from its start. */
  promptLines?: string[];
  /** Lines the first answer must show (each on a line of its own). */
  answerLines: string[];
  /** The first answer holds a code block containing this. */
  code?: string;
}

const ownCases: TCase[] = [
  {
    id: 'melody',
    prompt: 'Write a short jig in ABC notation.',
    answers: ['X:1\nT:Morning on the Hill\nM:6/8\nL:1/8\nK:D\n|:A|d2f a2f|g2e c2e|d2f a2g|fed e2:|', 'Here is a jig: D E F# G A B, then back down.'],
    answerLines: ['X:1', 'T:Morning on the Hill', 'M:6/8', 'L:1/8', 'K:D', '|:A|d2f a2f|g2e c2e|d2f a2g|fed e2:|'],
  },
  {
    id: 'poem',
    prompt: 'Read n\n, then m\n, then the grid\n and print its largest value.',
    promptLines: ['Read n', ', then m', ', then the grid', 'and print its largest value.'],
    answers: ['Grey rain at the window,\nthe kettle starts to sing,\nand all the afternoon\nis waiting for a thing.\n\n```python\nprint(max(map(int, open(0).read().split()[2:])))\n```', 'Use max() over the grid.'],
    answerLines: ['Grey rain at the window,', 'the kettle starts to sing,', 'and all the afternoon', 'is waiting for a thing.'],
    code: 'print(max(map(int, open(0).read().split()[2:])))',
  },
];

/** Real items from arena-hard-v0.1 (../shared/data, not part of the repository): used where present. */
function arenaCases(): TCase[] {
  const arena = path.resolve(import.meta.dirname, '../../../shared/data/arena-hard-v0.1');
  if (!fs.existsSync(path.join(arena, 'question.jsonl'))) {
    console.info(`rendering: ${arena} is absent; the project's own cases cover the same rendering`);
    return [];
  }
  const rows = (file: string) => fs.readFileSync(path.join(arena, file), 'utf8').split('\n').filter(Boolean).map((line) => JSON.parse(line) as Record<string, unknown>);
  const questions = new Map(rows('question.jsonl').map((q) => [q.uid as string, q.prompt as string]));
  const answerOf = (model: string) => {
    const byUid = new Map<string, string>();
    for (const row of rows(`${model}.jsonl`)) {
      const content = (row.messages as { role: string; content: string | { answer: string } }[]).find((m) => m.role === 'assistant')!.content;
      byUid.set(row.uid as string, typeof content === 'string' ? content : content.answer);
    }
    return byUid;
  };
  const gpt4 = answerOf('gpt-4-0314');
  const gpt35 = answerOf('gpt-3.5-turbo-0125');
  const item = (uid: string) => ({ prompt: questions.get(uid)!, answers: [gpt4.get(uid)!, gpt35.get(uid)!] as [string, string] });
  return [
    // gpt-4's folk melody: X:, T:, M:, L:, K: each on a line of its own, then the bars.
    { id: 'arena-abc', ...item('328c149ed45a41c0b9d6f14659e63599'), answerLines: ['X:1', 'T:Untitled Folk Tune', 'M:4/4', 'L:1/8', 'K:G', '|:G2A2|B2A2|G2E2|D4|E2F2|G2F2|E2C2|B,4|'] },
    // "a\n, b\n, c\n placed in a row": the statement's line breaks are the reader's; gpt-4's C++ stays a code block.
    {
      id: 'arena-cards',
      ...item('b43c07656ead4150b360294ee932b410'),
      promptLines: ['SOLVE THIS IN C++ : There are three cards with letters a', ', b', ', c', 'placed in a row in some order. You can do the following operation at most once:'],
      answerLines: [],
      code: '#include',
    },
  ];
}

const cases = [...ownCases, ...arenaCases()];

describe('responses rendered as written', () => {
  let browser: Browser;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    const annotator = demoAccounts().find((a) => a.role === 'annotator')!;
    await cli(['project', 'create', '--slug', slug, '--name', 'Rendering as written']);
    await cli(['member', 'add', '--project', slug, '--email', annotator.email, '--role', 'annotator']);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'pw-rendering-'));
    const file = path.join(dir, 'cases.jsonl');
    fs.writeFileSync(file, cases.map((c) => JSON.stringify({ id: c.id, prompt: c.prompt, responses: c.answers.map((content) => ({ content })) })).join('\n') + '\n');
    await cli(['import', '--project', slug, file]);
    fs.rmSync(dir, { recursive: true, force: true });
    page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    await signIn(page, annotator);
    await page.goto(`${appUrl()}/annotate/${slug}`);
  });

  afterAll(async () => {
    await browser?.close();
  });

  /** The rendered lines of an element, as a reader sees them. */
  const linesOf = async (locator: ReturnType<Page['locator']>) =>
    (await locator.innerText())
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);

  it('keeps every single line break of prompts and responses, keeps code as code, and shows the raw text on request', async () => {
    const seen: string[] = [];
    for (let i = 0; i < cases.length; i++) {
      const conversation = page.locator('section[aria-label="Conversation"]');
      await conversation.waitFor();
      const promptText = await conversation.innerText();
      const found = cases.find((c) => promptText.includes(c.prompt.split('\n')[0]!.trim()));
      expect(found, promptText.slice(0, 200)).toBeDefined();
      const item = found!;
      seen.push(item.id);

      if (item.promptLines) {
        const shown = await linesOf(conversation.locator('.markdown').first());
        expect(shown.slice(0, item.promptLines.length)).toEqual(item.promptLines);
      }
      // Each response's raw view holds its exact characters, newlines and all; the one holding the
      // first answer is then checked as rendered (the page shows responses in its own order).
      const regions = page.locator('[role=region][aria-label^="Response "]');
      await regions.first().waitFor();
      const raw: string[] = [];
      for (const r of [regions.nth(0), regions.nth(1)]) {
        await r.getByRole('button', { name: 'Raw text' }).first().click();
        raw.push((await r.getByLabel('Raw text').textContent()) ?? '');
        await r.getByRole('button', { name: 'Formatted' }).click();
        expect(await r.getByLabel('Raw text').count()).toBe(0);
      }
      expect([...raw].sort()).toEqual([...item.answers].sort());
      const region = regions.nth(raw.indexOf(item.answers[0]));
      const shown = await linesOf(region.locator('.markdown'));
      for (const line of item.answerLines) expect(shown).toContain(line);
      if (item.code) expect(await region.locator('.markdown pre code').first().innerText()).toContain(item.code);
      if (i === 0) await page.screenshot({ path: artifact(`rendering-${item.id}.png`), fullPage: true });

      // Judge with the keyboard and move on: A, strength 4, Enter.
      const assignment = await page.locator('main').getAttribute('data-assignment');
      await page.keyboard.press('a');
      await page.keyboard.press('4');
      await page.keyboard.press('Enter');
      if (i < cases.length - 1) await expect.poll(() => page.locator('main').getAttribute('data-assignment'), { timeout: 20_000 }).not.toBe(assignment);
    }
    expect(seen.sort()).toEqual(cases.map((c) => c.id).sort());
  });
});
