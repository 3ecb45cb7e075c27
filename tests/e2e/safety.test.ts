/**
 * Rendering safety: model output and imported text may hold HTML, scripts, javascript: links,
 * huge tables or 1 MB lines. They must render inert, and the page must stay responsive.
 *
 * Imports the hostile corpus (tests/fixtures/hostile-payloads.ts) with the CLI, then an annotator
 * judges every comparison with the keyboard in Chromium. On each one: no script ran (no
 * window.__pwned, no dialog), no element that markdown cannot produce appeared in the content
 * (not even for a moment: a MutationObserver watches every insertion), no javascript:/data: URL,
 * no request left the app, and the page answered within a hang bound. A case that crashes or
 * hangs the page is recorded, skipped through the API, and the walk goes on, so one run reports
 * every failing case.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, inject, it } from 'vitest';
import { hostileCases, hostileJsonl, type THostileCase } from '../fixtures/hostile-payloads';
import { launchChromium } from '../helpers/browser';
import { runCli } from '../helpers/cli';
import { readDemoAccounts, signIn, trpcMutation, type TDemoAccount } from '../helpers/demo-session';

const appUrl = inject('appUrl');
const dataDir = inject('appDataDir');
const databaseUrl = inject('appDatabaseUrl');
const cliEnv: NodeJS.ProcessEnv = { ...process.env, PAIRWISE_DATA_DIR: dataDir };
if (databaseUrl) cliEnv.DATABASE_URL = databaseUrl;
else delete cliEnv.DATABASE_URL;

const slug = 'safety';
/** A hang detector, not a performance goal: anything slower than this is a frozen page. */
const RESPONSIVE_MS = 10_000;
/** How long to wait for a comparison before calling the page hung and moving on. */
const GIVE_UP_MS = 60_000;

function artifact(name: string): string {
  const dir = path.join(import.meta.dirname, '..', '.artifacts');
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, name);
}

/**
 * Installed before any page script: watches every element inserted into the content, the
 * moment each comparison is committed and painted, and long tasks. Plain JS in a string, so
 * the page runs exactly this (no transpiler helpers).
 */
const PAGE_PROBE = String.raw`(() => {
  const CONTENT = 'section[aria-label="Conversation"], [role=region][aria-label^="Response "], section[aria-label="Edit the chosen response"], section[aria-label="My recent judgments"], .markdown';
  const FORBIDDEN = 'script, iframe, frame, frameset, img, svg, style, object, embed, link, meta, base, video, audio, source, picture, math, marquee, template, noscript, form, applet';
  // Everything react-markdown with remark-gfm (and our components) may produce.
  const MARKDOWN_TAGS = new Set(['A', 'BLOCKQUOTE', 'BR', 'CODE', 'DEL', 'DIV', 'EM', 'H1', 'H2', 'H3', 'H4', 'H5', 'H6', 'HR', 'INPUT', 'LI', 'OL', 'P', 'PRE', 'SECTION', 'SPAN', 'STRONG', 'SUP', 'TABLE', 'TBODY', 'TD', 'TH', 'THEAD', 'TR', 'UL']);
  const URL_ATTRIBUTES = ['href', 'src', 'srcdoc', 'action', 'formaction', 'xlink:href', 'data', 'poster', 'background', 'srcset'];
  const UNSAFE_URL = /^[\s\u0000-\u001f]*(javascript|data|vbscript):/i;
  const s = (window.__safety = { enterAt: null, shownAt: null, paintedAt: null, assignment: null, inserted: [], longTasks: [] });
  const describe = (el) => el.outerHTML.slice(0, 160);

  addEventListener('keydown', (e) => { if (e.key === 'Enter') s.enterAt = e.timeStamp; }, true);
  try {
    new PerformanceObserver((list) => { for (const e of list.getEntries()) s.longTasks.push(e.duration); }).observe({ type: 'longtask', buffered: true });
  } catch (e) { /* no long task API */ }

  new MutationObserver((records) => {
    for (const r of records) {
      if (r.type === 'attributes') {
        const value = r.target.getAttribute('data-assignment');
        if (r.target.tagName === 'MAIN' && value && value !== s.assignment) {
          s.assignment = value;
          s.shownAt = performance.now();
          s.paintedAt = null;
          requestAnimationFrame(() => setTimeout(() => { if (s.assignment === value) s.paintedAt = performance.now(); }, 0));
        }
        continue;
      }
      // The parent tells where a node went even if it was removed again before this callback.
      const intoContent = r.target.nodeType === 1 && r.target.closest(CONTENT);
      for (const node of r.addedNodes) {
        if (node.nodeType !== 1) continue;
        const found = node.matches(FORBIDDEN) ? [node] : [];
        found.push(...node.querySelectorAll(FORBIDDEN));
        for (const el of found) if (intoContent || el.closest(CONTENT)) s.inserted.push(describe(el));
      }
    }
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-assignment'] });

  s.state = () => ({
    assignment: document.querySelector('main')?.getAttribute('data-assignment') ?? null,
    regions: document.querySelectorAll('[role=region][aria-label^="Response "]').length,
    done: !!Array.from(document.querySelectorAll('h2')).find((h) => h.textContent === 'All done'),
    crashed: !document.querySelector('main') || Array.from(document.querySelectorAll('h2')).some((h) => h.textContent.startsWith('Application error')),
  });

  s.inspect = (showsText) => {
    const roots = Array.from(document.querySelectorAll(CONTENT));
    const problems = [];
    if (window.__pwned !== undefined) problems.push('window.__pwned is ' + JSON.stringify(window.__pwned));
    for (const html of s.inserted.splice(0)) problems.push('an element was inserted into the content: ' + html);
    for (const root of roots) {
      for (const el of root.querySelectorAll(FORBIDDEN)) problems.push('forbidden element in the content: ' + describe(el));
      for (const el of [root, ...root.querySelectorAll('*')]) {
        for (const attr of el.attributes) if (/^on/i.test(attr.name)) problems.push('event handler attribute ' + attr.name + ' on ' + describe(el));
      }
      if (root.matches('.markdown')) {
        for (const el of root.querySelectorAll('*')) {
          if (!MARKDOWN_TAGS.has(el.tagName)) problems.push('an element markdown does not produce: ' + describe(el));
          else if (el.tagName === 'INPUT' && !(el.type === 'checkbox' && el.disabled)) problems.push('an input that is not a task-list checkbox: ' + describe(el));
        }
      }
    }
    // Tool calls and tool results are shown as preformatted text: no elements inside.
    for (const pre of document.querySelectorAll('[role=region] pre, section[aria-label="Conversation"] pre')) {
      if (!pre.closest('.markdown') && pre.children.length > 0) problems.push('elements inside a tool-call/result block: ' + describe(pre));
    }
    for (const el of document.querySelectorAll('*')) {
      for (const name of URL_ATTRIBUTES) {
        const value = el.getAttribute(name);
        if (value !== null && UNSAFE_URL.test(value)) problems.push('unsafe URL in ' + name + ': ' + describe(el));
      }
    }
    // Content must not hide or cover the page: every content root is laid out and visible.
    for (const root of roots) {
      const box = root.getBoundingClientRect();
      const style = getComputedStyle(root);
      if (box.width === 0 || box.height === 0 || style.visibility !== 'visible' || style.display === 'none') problems.push('content hidden: ' + describe(root).slice(0, 80));
    }
    const bodyStyle = getComputedStyle(document.body);
    if (bodyStyle.display === 'none' || bodyStyle.visibility !== 'visible') problems.push('the page body is hidden');
    const text = roots.map((r) => r.textContent).join('\n');
    for (const t of showsText) if (!text.includes(t)) problems.push('raw text not shown as text: ' + JSON.stringify(t));
    const caseMatch = /Case ([a-z0-9-]+):/.exec(document.querySelector('section[aria-label="Conversation"]')?.textContent ?? '');
    const safeLinks = Array.from(document.querySelectorAll('.markdown a[href^="https:"]')).length;
    const main = document.querySelector('main');
    const longTasks = s.longTasks.splice(0);
    return {
      caseId: caseMatch ? caseMatch[1] : null,
      problems: [...new Set(problems)],
      safeLinks,
      elements: main ? main.getElementsByTagName('*').length : 0,
      textLength: main ? main.textContent.length : 0,
      pageHeight: document.documentElement.scrollHeight,
      longestTaskMs: Math.round(Math.max(0, ...longTasks)),
      blockedMs: Math.round(longTasks.reduce((a, b) => a + b, 0)),
    };
  };
})();`;

interface TPageState {
  assignment: string | null;
  regions: number;
  done: boolean;
  crashed: boolean;
}

interface TInspection {
  caseId: string | null;
  problems: string[];
  safeLinks: number;
  elements: number;
  textLength: number;
  pageHeight: number;
  longestTaskMs: number;
  blockedMs: number;
}

interface TTimes {
  enterAt: number | null;
  shownAt: number | null;
  paintedAt: number | null;
}

interface TCaseReport {
  id: string;
  outcome: 'ok' | 'crashed' | 'hung';
  renderMs: number | null;
  evaluateMs: number | null;
  keyMs: number | null;
  longestTaskMs: number | null;
  elements: number | null;
  pageHeight: number | null;
  problems: string[];
}

type TProbe = { state(): TPageState; inspect(showsText: string[]): TInspection } & TTimes;
declare global {
  interface Window {
    __safety: TProbe;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves with the value, or with 'timeout' if the page does not answer in time (a busy main thread). */
async function within<T>(promise: Promise<T>, ms: number): Promise<T | 'timeout'> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<'timeout'>((resolve) => (timer = setTimeout(() => resolve('timeout'), ms)));
  try {
    return await Promise.race([promise, timeout]);
  } finally {
    clearTimeout(timer);
  }
}

describe('rendering safety: hostile model output and imported text', () => {
  let browser: Browser;
  let context: BrowserContext;
  let annotator: TDemoAccount;
  const cases = hostileCases();
  const byId = new Map(cases.map((c) => [c.id, c]));
  const dialogs: string[] = [];
  const pageErrors: string[] = [];
  const foreignRequests: string[] = [];
  const appOrigin = new URL(appUrl).origin;

  beforeAll(async () => {
    browser = await launchChromium();
    annotator = readDemoAccounts(dataDir).find((a) => a.role === 'annotator')!;
    const created = await runCli(['project', 'create', '--slug', slug, '--name', 'Rendering safety'], { env: cliEnv });
    expect(created.code, created.stderr).toBe(0);
    const added = await runCli(['member', 'add', '--project', slug, '--email', annotator.email, '--role', 'annotator'], { env: cliEnv });
    expect(added.code, added.stderr).toBe(0);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pw-safety-')), 'hostile.jsonl');
    fs.writeFileSync(file, hostileJsonl(cases));
    const imported = await runCli(['import', '--project', slug, file], { env: cliEnv, timeoutMs: 180_000 });
    expect(imported.code, imported.stderr).toBe(0);
    expect(imported.stdout).toContain(`imported ${cases.length} comparison(s)`);
    fs.rmSync(path.dirname(file), { recursive: true, force: true });
  });

  afterAll(async () => {
    await context?.close();
    await browser?.close();
  });

  async function openPage(): Promise<Page> {
    const page = await context.newPage();
    page.on('dialog', (d) => {
      dialogs.push(`${d.type()}: ${d.message()}`);
      void d.dismiss().catch(() => undefined);
    });
    page.on('pageerror', (e) => pageErrors.push(e.message.slice(0, 300)));
    page.on('console', (m) => {
      if (m.type() === 'error') pageErrors.push(m.text().split('\n')[0]!.slice(0, 300));
    });
    page.on('request', (r) => {
      const url = r.url();
      if (!url.startsWith(appOrigin)) foreignRequests.push(url.slice(0, 200));
    });
    await page.addInitScript({ content: PAGE_PROBE });
    await page.goto(`${appUrl}/annotate/${slug}`);
    return page;
  }

  /** Waits for a comparison other than `previous`, the end of the queue, a crash or a hang. */
  async function next(page: Page, previous: string | null): Promise<{ kind: 'comparison' | 'done' | 'crashed' | 'hung'; state?: TPageState }> {
    const start = Date.now();
    while (Date.now() - start < GIVE_UP_MS) {
      const state = await within(
        page.evaluate(() => window.__safety.state()),
        GIVE_UP_MS - (Date.now() - start),
      ).catch(() => 'timeout' as const);
      if (state === 'timeout') break;
      if (state.crashed) return { kind: 'crashed', state };
      if (state.done) return { kind: 'done', state };
      if (state.assignment && state.assignment !== previous && state.regions >= 2) return { kind: 'comparison', state };
      await sleep(100);
    }
    return { kind: 'hung' };
  }

  /** The comparison on screen is the annotator's oldest lease: identify it and skip it through the API. */
  async function skipCurrent(reason: string): Promise<string> {
    const { items } = await trpcMutation<{ items: { handle: string; prompt: { role: string; content: string }[] }[] }>(context.request, appUrl, 'annotation.lease', {
      project: slug,
      want: 2,
    });
    const current = items[0];
    if (!current) throw new Error('no lease to skip');
    const caseId = /Case ([a-z0-9-]+):/.exec(current.prompt.map((m) => m.content).join('\n'))?.[1] ?? `assignment ${current.handle}`;
    await trpcMutation(context.request, appUrl, 'annotation.skip', { handle: current.handle, reason });
    return caseId;
  }

  it(
    'renders every hostile payload inert and keeps the page responsive',
    async () => {
      context = await browser.newContext({ viewport: { width: 1440, height: 900 } });
      const signInPage = await context.newPage();
      await signIn(signInPage, appUrl, annotator);
      await signInPage.close();

      let page = await openPage();
      const reports: TCaseReport[] = [];
      let heaviest: { renderMs: number; shot: Buffer; id: string } | null = null;
      let previous: string | null = null;

      for (let guard = 0; guard < cases.length * 2; guard++) {
        const errorsBefore = pageErrors.length;
        const arrived = await next(page, previous);
        if (arrived.kind === 'done') break;

        if (arrived.kind === 'crashed' || arrived.kind === 'hung') {
          // Nothing on screen to judge. The comparison stays leased to this annotator and comes first
          // again: check that a reload does not help, then skip it through the API to go on.
          await page.screenshot({ path: artifact(`safety-${arrived.kind}.png`) }).catch(() => undefined);
          let stuck = '';
          if (arrived.kind === 'crashed') {
            await page.reload();
            if ((await next(page, null)).kind === 'crashed') stuck = '; it crashes again after a reload, so the annotator is stuck on it until the lease expires';
          } else await page.close({ runBeforeUnload: false });
          const id = await skipCurrent(`the page ${arrived.kind} in the rendering-safety test`);
          reports.push({
            id,
            outcome: arrived.kind,
            renderMs: null,
            evaluateMs: null,
            keyMs: null,
            longestTaskMs: null,
            elements: null,
            pageHeight: null,
            problems: [
              arrived.kind === 'hung'
                ? `the page did not show the comparison or answer within ${GIVE_UP_MS / 1000} s`
                : `the page crashed (${[...new Set(pageErrors.slice(errorsBefore))].join(' | ') || 'Application error'})${stuck}`,
            ],
          });
          if (arrived.kind === 'hung') page = await openPage();
          else await page.reload();
          previous = null;
          continue;
        }

        const times = await page.evaluate(() => ({ enterAt: window.__safety.enterAt, shownAt: window.__safety.shownAt, paintedAt: window.__safety.paintedAt }));
        // Let the painted mark land (one frame after the commit).
        await page.waitForFunction(() => window.__safety.paintedAt !== null, undefined, { timeout: GIVE_UP_MS });
        const painted = await page.evaluate(() => window.__safety.paintedAt!);
        const renderMs = Math.round(painted - (times.enterAt ?? 0));

        const t = Date.now();
        await page.evaluate(() => 1);
        const evaluateMs = Date.now() - t;

        const peek = await page.evaluate(() => window.__safety.inspect([]));
        const hostile: THostileCase | undefined = peek.caseId ? byId.get(peek.caseId) : undefined;
        const id = hostile?.id ?? `unknown (${peek.caseId})`;
        const problems: string[] = [];

        // The collapsed system prompt is in the DOM already; open it as an annotator would.
        const summary = page.locator('summary', { hasText: 'System prompt' });
        if ((await summary.count()) > 0) await summary.first().click();

        // Hover the content: inline handlers like onmouseover would fire now if they existed.
        for (const name of ['Response A', 'Response B']) {
          const box = await page.getByRole('region', { name }).boundingBox();
          if (box) await page.mouse.move(box.x + box.width / 2, box.y + Math.min(box.height / 2, 300));
        }

        // Judge with the keyboard; the first key press must change the state within the hang bound.
        await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
        const count = await page.locator('[role=region][aria-label^="Response "]').count();
        let keyMs: number;
        const k = Date.now();
        await page.keyboard.press('a');
        if (count === 2) {
          await page.getByRole('button', { name: /A is better/, pressed: true }).waitFor({ timeout: GIVE_UP_MS });
          keyMs = Date.now() - k;
          await page.keyboard.press('1');
        } else {
          await page.getByRole('region', { name: 'Response A' }).getByRole('button', { name: /Rank 1/ }).waitFor({ timeout: GIVE_UP_MS });
          keyMs = Date.now() - k;
          for (const letter of ['b', 'c', 'd', 'e', 'f', 'g', 'h'].slice(0, count - 1)) await page.keyboard.press(letter);
        }

        // The edit step previews the chosen response as markdown: that rendering must be inert too.
        if (!hostile?.heavy) {
          await page.keyboard.press('e');
          const editor = page.getByRole('region', { name: 'Edit the chosen response' });
          await editor.waitFor();
          await editor.getByRole('tab', { name: /preview/i }).click();
          await editor.locator('.markdown').waitFor();
          const preview = await page.evaluate(() => window.__safety.inspect([]));
          problems.push(...preview.problems.map((p) => `edit preview: ${p}`));
          await editor.getByRole('button', { name: 'Close' }).click();
          await page.evaluate(() => (document.activeElement as HTMLElement | null)?.blur());
        }

        const inspection = await page.evaluate((shows) => window.__safety.inspect(shows), hostile?.showsText ?? []);
        problems.push(...peek.problems, ...inspection.problems);
        if (hostile?.id === 'markdown-javascript-links' && inspection.safeLinks === 0) problems.push('the safe https link lost its href');
        if (renderMs > RESPONSIVE_MS) problems.push(`showing it took ${renderMs} ms after the previous submit (hang bound ${RESPONSIVE_MS} ms)`);
        if (evaluateMs > RESPONSIVE_MS) problems.push(`the page took ${evaluateMs} ms to answer an evaluate`);
        if (keyMs > RESPONSIVE_MS) problems.push(`the first key press took ${keyMs} ms to show`);
        if (pageErrors.length > errorsBefore) problems.push(`page errors: ${pageErrors.slice(errorsBefore).join(' | ')}`);
        if (!page.url().endsWith(`/annotate/${slug}`)) problems.push(`the page navigated to ${page.url()}`);

        // The heaviest page is the one that took longest to show; the screenshot is what the annotator sees.
        if (!heaviest || renderMs > heaviest.renderMs) {
          await page.evaluate(() => window.scrollTo(0, 0));
          heaviest = { renderMs, id, shot: await page.screenshot() };
        }

        reports.push({
          id,
          outcome: 'ok',
          renderMs,
          evaluateMs,
          keyMs,
          longestTaskMs: Math.max(peek.longestTaskMs, inspection.longestTaskMs),
          elements: inspection.elements,
          pageHeight: inspection.pageHeight,
          problems,
        });

        previous = arrived.state!.assignment;
        await page.keyboard.press('Enter');
      }

      // The history panel shows prompt previews of everything judged: inert too.
      await page.getByRole('heading', { name: 'All done' }).waitFor({ timeout: GIVE_UP_MS });
      await page.getByRole('button', { name: 'My recent judgments' }).click();
      await page.getByRole('region', { name: 'My recent judgments' }).locator('li').first().waitFor();
      const history = await page.evaluate(() => window.__safety.inspect([]));
      if (heaviest) fs.writeFileSync(artifact('safety.png'), heaviest.shot);

      console.log(
        [
          `rendering safety: ${reports.length} comparison(s); slowest to show: ${heaviest?.id} (screenshot in tests/.artifacts/safety.png)`,
          '(render: from the previous Enter to the comparison painted; the first and those after a reload: from navigation)',
          'case                          outcome  render ms  evaluate ms  key ms  longest task ms  elements  page height px',
          ...reports.map((r) =>
            [
              r.id.padEnd(30),
              r.outcome.padEnd(8),
              String(r.renderMs ?? '-').padStart(9),
              String(r.evaluateMs ?? '-').padStart(12),
              String(r.keyMs ?? '-').padStart(7),
              String(r.longestTaskMs ?? '-').padStart(16),
              String(r.elements ?? '-').padStart(9),
              String(r.pageHeight ?? '-').padStart(15),
            ].join(' '),
          ),
        ].join('\n'),
      );

      const failures = [
        ...reports.flatMap((r) => r.problems.map((p) => `${r.id}: ${p}`)),
        ...history.problems.map((p) => `history panel: ${p}`),
        ...dialogs.map((d) => `a dialog opened: ${d}`),
        ...foreignRequests.map((u) => `a request left the app: ${u}`),
      ];
      const seen = new Set(reports.map((r) => r.id));
      for (const c of cases) if (!seen.has(c.id)) failures.push(`${c.id}: never shown`);
      expect(failures, failures.join('\n')).toEqual([]);
      await page.close();
    },
    30 * 60_000,
  );
});
