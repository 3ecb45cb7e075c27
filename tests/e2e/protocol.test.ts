import type { Browser, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { launchChromium } from '../helpers/browser';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { appUrl, artifact, cli, demoAccounts, exportLines, projectWith, signIn, type TAccount } from '../helpers/e2e-app';

interface TLine {
  prompt: { role: string; content: string }[];
  chosen: { role: string; content: string; tool_calls?: unknown[] }[];
  rejected: { role: string; content: string }[];
  metadata: { relation: string; strength: string | null; chosen_origin: string };
}

const regionText = (page: Page, side: string) => page.getByRole('region', { name: `Response ${side}` }).locator('.markdown').first().innerText();

describe('the Llama 3 annotation protocol in the browser', () => {
  let browser: Browser;
  let annotator: TAccount;
  let page: Page;

  beforeAll(async () => {
    browser = await launchChromium();
    annotator = demoAccounts().find((a) => a.email.startsWith('annotator1'))!;
    page = await browser.newPage({ viewport: { width: 1400, height: 1000 } });
    await signIn(page, annotator);
  });

  afterAll(async () => {
    await browser?.close();
  });

  it('edit step: choose, press E, rewrite, submit; the export holds the triple as three pairs', async () => {
    await projectWith('proto-edit', ['--edit', 'optional'], [
      { id: 'e1', prompt: 'Name a prime number.', responses: [{ content: 'Seven is prime.', model: 'm1' }, { content: 'Nine is prime.', model: 'm2' }] },
    ]);
    await page.goto(`${appUrl()}/annotate/proto-edit`);
    await page.getByRole('region', { name: 'Response A' }).waitFor();
    const [a, b] = [(await regionText(page, 'A')).trim(), (await regionText(page, 'B')).trim()];
    const chosenKey = a.startsWith('Seven') ? 'a' : 'b';
    await page.keyboard.press(chosenKey);
    await page.keyboard.press('2');
    await page.keyboard.press('e');
    const editor = page.getByLabel('Edited response (markdown)');
    await editor.waitFor();
    expect(await editor.inputValue()).toBe('Seven is prime.');
    await editor.fill('Seven is prime: its only divisors are 1 and 7.');
    await page.getByRole('tab', { name: 'changes' }).click();
    await expect.poll(() => page.getByTestId('edit-diff').locator('ins').count()).toBeGreaterThan(0);
    await page.getByRole('button', { name: /^Submit/ }).click();
    await page.getByRole('heading', { name: 'All done' }).waitFor();

    const lines = await exportLines<TLine>('proto-edit');
    const byRelation = Object.fromEntries(lines.map((l) => [l.metadata.relation, l]));
    expect(Object.keys(byRelation).sort()).toEqual(['chosen>rejected', 'edited>chosen', 'edited>rejected']);
    expect(byRelation['edited>chosen']!.chosen[0]!.content).toBe('Seven is prime: its only divisors are 1 and 7.');
    expect(byRelation['edited>chosen']!.rejected[0]!.content).toBe('Seven is prime.');
    expect(byRelation['edited>rejected']!.rejected[0]!.content).toBe('Nine is prime.');
    expect(byRelation['chosen>rejected']!.chosen[0]!.content).toBe('Seven is prime.');
    expect(byRelation['chosen>rejected']!.metadata.strength).toBe('better');
    expect(byRelation['edited>chosen']!.metadata.chosen_origin).toBe('edit');
    void b;
  });

  it('ranks three responses with the keyboard, with strengths between adjacent ranks', async () => {
    await projectWith('proto-rank', ['--ranking-strength'], [
      {
        id: 'r1',
        prompt: 'Rank these answers to: what is the capital of Australia?',
        responses: [
          { content: 'Canberra.', model: 'm1' },
          { content: 'Sydney.', model: 'm2' },
          { content: 'Canberra, in the Australian Capital Territory.', model: 'm3' },
        ],
      },
    ]);
    await page.goto(`${appUrl()}/annotate/proto-rank`);
    await page.getByRole('region', { name: 'Response C' }).waitFor();
    const texts = await Promise.all(['A', 'B', 'C'].map(async (s) => (await regionText(page, s)).trim()));
    const key = (text: string) => 'abc'[texts.indexOf(text)]!;
    // Best: the detailed Canberra, then Canberra, then Sydney.
    await page.keyboard.press(key('Canberra, in the Australian Capital Territory.'));
    await page.keyboard.press(key('Canberra.'));
    await page.keyboard.press('3'); // slightly better, between rank 1 and 2
    await page.keyboard.press(key('Sydney.'));
    await page.keyboard.press('1'); // significantly better, between rank 2 and 3
    await expect.poll(() => page.getByTestId('rank-3').innerText()).toContain('3.');
    await page.screenshot({ path: artifact('ranking.png'), fullPage: true });
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'All done' }).waitFor();

    const lines = await exportLines<TLine>('proto-rank');
    const pairs = lines.map((l) => [l.chosen[0]!.content, l.rejected[0]!.content, l.metadata.strength]);
    expect(pairs).toEqual([
      ['Canberra, in the Australian Capital Territory.', 'Canberra.', 'slightly_better'],
      ['Canberra, in the Australian Capital Territory.', 'Sydney.', 'significantly_better'],
      ['Canberra.', 'Sydney.', 'significantly_better'],
    ]);
  });

  it('shows a multi-turn conversation with a tool call, its result and the final answer', async () => {
    const toolTurn = [
      { role: 'assistant', content: '', tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' } }] },
      { role: 'tool', tool_call_id: 'call_1', content: '{"temperature": 18, "sky": "cloudy"}' },
    ];
    await projectWith('proto-tools', [], [
      {
        id: 't1',
        prompt: [
          { role: 'system', content: 'You are a weather assistant. SYSTEM-SECRET-MARKER' },
          { role: 'user', content: 'Hi! Can you check the weather for me?' },
          { role: 'assistant', content: 'Of course. Which city?' },
          { role: 'user', content: 'Paris, please.' },
        ],
        responses: [
          { content: [...toolTurn, { role: 'assistant', content: 'It is 18 °C and cloudy in Paris.' }], model: 'm1' },
          { content: [...toolTurn, { role: 'assistant', content: 'Paris: 18 degrees, cloudy skies.' }], model: 'm2' },
        ],
      },
    ]);
    await page.goto(`${appUrl()}/annotate/proto-tools`);
    const region = page.getByRole('region', { name: 'Response A' });
    await region.waitFor();
    await expect.poll(() => region.getByText('Tool call: get_weather').isVisible()).toBe(true);
    expect(await region.locator('pre', { hasText: '"city": "Paris"' }).count()).toBeGreaterThan(0);
    expect(await region.getByText('Tool result').isVisible()).toBe(true);
    expect(await page.getByText('Paris, please.').isVisible()).toBe(true);
    expect(await page.getByText('Which city?').isVisible()).toBe(true);
    // The system prompt is collapsed by default.
    expect(await page.getByText('SYSTEM-SECRET-MARKER').isVisible()).toBe(false);
    await page.screenshot({ path: artifact('tool-call.png'), fullPage: true });
    await page.keyboard.press('a');
    await page.keyboard.press('1');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'All done' }).waitFor();

    const [line] = await exportLines<TLine>('proto-tools');
    expect(line!.prompt).toHaveLength(4);
    expect(line!.chosen).toHaveLength(3);
    expect(line!.chosen[0]!.tool_calls).toEqual(toolTurn[0]!.tool_calls);
  });

  it('shows unread guidelines before the first comparison, then in a side panel; judgments record the version', async () => {
    await projectWith('proto-guide', [], [
      { id: 'g1', prompt: 'Say hi.', responses: [{ content: 'Hi!', model: 'm1' }, { content: 'Hello there!', model: 'm2' }] },
    ]);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-guide-')), 'guidelines.md');
    fs.writeFileSync(file, '# How to judge\n\nPrefer the **more helpful** answer. GUIDELINES-MARKER\n');
    await cli(['guidelines', 'set', '--project', 'proto-guide', file]);

    await page.goto(`${appUrl()}/annotate/proto-guide`);
    const dialog = page.getByRole('dialog', { name: 'Guidelines' });
    await dialog.waitFor();
    expect(await dialog.getByText('GUIDELINES-MARKER').isVisible()).toBe(true);
    await page.screenshot({ path: artifact('guidelines.png') });
    await dialog.getByRole('button', { name: 'I have read the guidelines' }).click();
    await dialog.waitFor({ state: 'detached' });

    await page.getByRole('button', { name: 'Guidelines v1' }).click();
    await page.getByRole('complementary').getByText('GUIDELINES-MARKER').waitFor();
    await page.keyboard.press('b');
    await page.keyboard.press('4');
    await page.keyboard.press('Enter');
    await page.getByRole('heading', { name: 'All done' }).waitFor();
    const [line] = await exportLines<TLine & { metadata: { guidelines_version: number | null } }>('proto-guide');
    expect(line!.metadata.guidelines_version).toBe(1);

    // Read once: a reload does not ask again.
    await page.reload();
    await page.getByRole('heading', { name: 'All done' }).waitFor();
    expect(await page.getByRole('dialog', { name: 'Guidelines' }).count()).toBe(0);
  });

  it('ranks with the mouse and drag-and-drop, including a tie where the project allows it', async () => {
    await projectWith('proto-drag', ['--allow-ties'], [
      { id: 'd1', prompt: 'Which is correct? 2 + 2 =', responses: [{ content: 'Four.', model: 'm1' }, { content: '4', model: 'm2' }, { content: 'Five.', model: 'm3' }] },
    ]);
    await page.goto(`${appUrl()}/annotate/proto-drag`);
    await page.getByRole('region', { name: 'Response C' }).waitFor();
    const sides = ['A', 'B', 'C'];
    const texts = await Promise.all(sides.map(async (s) => (await regionText(page, s)).trim()));
    const sideOf = (text: string) => sides[texts.indexOf(text)]!;
    // Click "Rank next" in order: Four., Five., 4 — then drag "4" onto rank 1 to tie it with "Four.".
    for (const text of ['Four.', 'Five.', '4']) {
      await page.getByRole('region', { name: `Response ${sideOf(text)}` }).getByRole('button', { name: /Rank next/ }).click();
    }
    await page.getByTestId(`rank-chip-${sideOf('4')}`).dragTo(page.getByTestId('rank-1'));
    await expect.poll(() => page.getByTestId('rank-1').innerText()).toMatch(/=/);
    expect(await page.getByTestId('rank-3').count()).toBe(0);
    await page.getByRole('button', { name: /^Submit/ }).click();
    await page.getByRole('heading', { name: 'All done' }).waitFor();

    const lines = await exportLines<TLine>('proto-drag');
    const pairs = lines.map((l) => `${l.chosen[0]!.content} > ${l.rejected[0]!.content}`).sort();
    expect(pairs).toEqual(['4 > Five.', 'Four. > Five.']);
  });
});
