/**
 * The annotate page in real Chromium against the real app (`npm start`'s launcher, production build):
 *   60 comparisons of long markdown with code blocks (arena-hard-v0.1 from ../shared/data when
 *   present, else generated), an annotator judging them with the keyboard;
 *   the time from the Enter that submits to the next comparison being painted, over 50 judgments
 *   after 5 warm-up ones (goal: p95 under 100 ms);
 *   the annotate page's JavaScript, every script response of its load gzipped (goal: under 250 KB).
 * Prints a table, then one JSON line.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { gzipSync } from 'node:zlib';
import postgres from 'postgres';
import type { Browser, Page } from 'playwright-core';
import { repoRoot, startApp, type TRunningApp } from '../helpers/app-process';
import { launchChromium } from '../helpers/browser';
import { runCli } from '../helpers/cli';
import { readDemoAccounts, signIn } from '../helpers/demo-session';
import { percentile, round } from './bench-database';

const COMPARISONS = 60;
const WARM_UP = 5;
const JUDGMENTS = 50;
const SLUG = 'bench-annotate';
const ARENA = path.resolve(repoRoot, '..', 'shared', 'data', 'arena-hard-v0.1');

/** Real prompts with two different models' answers, both holding code blocks. */
function arenaLines(n: number): string[] | null {
  if (!fs.existsSync(path.join(ARENA, 'question.jsonl'))) return null;
  const read = (file: string) =>
    fs
      .readFileSync(path.join(ARENA, file), 'utf8')
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as Record<string, unknown>);
  const answers = (file: string) =>
    new Map(read(file).map((r) => [r.uid as string, ((r.messages as { content: { answer?: string } | string }[]).at(-1)!.content as { answer: string }).answer]));
  const [a, b] = [answers('gpt-4-0314.jsonl'), answers('gpt-3.5-turbo-0125.jsonl')];
  const picked = read('question.jsonl').filter((q) => a.get(q.uid as string)?.includes('```') && b.get(q.uid as string)?.includes('```'));
  if (picked.length < n) return null;
  return picked.slice(0, n).map((q) =>
    JSON.stringify({
      id: `arena-${q.uid as string}`,
      prompt: q.prompt,
      responses: [
        { content: a.get(q.uid as string), model: 'gpt-4-0314' },
        { content: b.get(q.uid as string), model: 'gpt-3.5-turbo-0125' },
      ],
      metadata: { source: 'arena-hard-v0.1', topic: q.cluster },
    }),
  );
}

/** Stand-in of the same shape when ../shared/data is absent: headings, lists, prose, two code blocks. */
function generatedLines(n: number): string[] {
  const answer = (i: number, variant: number) =>
    [
      `## Approach ${variant === 0 ? 'with a dictionary' : 'with a loop'}`,
      `To solve problem ${i}, keep the **first** occurrence of each key and skip the rest. This runs in *O(n)* time.`,
      '```python',
      `def solve_${i}(items, key=lambda x: x):`,
      '    seen = set()',
      '    out = []',
      '    for item in items:',
      '        k = key(item)',
      '        if k not in seen:',
      '            seen.add(k)',
      '            out.append(item)',
      '    return out',
      '```',
      '- Works for any hashable key.',
      '- Keeps the original order.',
      `- Variant ${variant}: ${'explanation '.repeat(20 + variant * 10).trim()}.`,
      '```ts',
      `export function solve${i}<T>(items: T[]): T[] {`,
      '  return [...new Map(items.map((x) => [JSON.stringify(x), x])).values()];',
      '}',
      '```',
      `| input | output |\n|---|---|\n| [3, 1, 3] | [3, 1] |\n| [${i}, ${i}] | [${i}] |`,
    ].join('\n');
  return Array.from({ length: n }, (_, i) =>
    JSON.stringify({
      id: `gen-${i}`,
      prompt: `Problem ${i}: remove duplicates from a list while keeping the order. Show code.`,
      responses: [
        { content: answer(i, 0), model: 'model-a' },
        { content: answer(i, 1), model: 'model-b' },
      ],
    }),
  );
}

/** In the page before its own scripts: when Enter went down, when a new comparison was committed, when it was painted. */
const PAGE_PROBE = String.raw`(() => {
  const p = (window.__bench = { enterAt: null, committedAt: null, paintedAt: null, assignment: null });
  addEventListener('keydown', (e) => { if (e.key === 'Enter') p.enterAt = e.timeStamp; }, true);
  new MutationObserver(() => {
    const main = document.querySelector('main[data-assignment]');
    const value = main && main.getAttribute('data-assignment');
    if (!value || value === p.assignment || !document.querySelector('[role=region][aria-label="Response B"]')) return;
    p.assignment = value;
    p.committedAt = performance.now();
    p.paintedAt = null;
    // After the next frame: the new comparison is on screen.
    requestAnimationFrame(() => setTimeout(() => { if (p.assignment === value) p.paintedAt = performance.now(); }, 0));
  }).observe(document, { subtree: true, childList: true, attributes: true, attributeFilter: ['data-assignment'] });
})();`;

interface TProbe {
  enterAt: number | null;
  committedAt: number | null;
  paintedAt: number | null;
  assignment: string | null;
}
declare global {
  interface Window {
    __bench: TProbe;
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Resolves when no tRPC request has been in flight for 150 ms: the background save and refill are done. */
function trackTrpc(page: Page): () => Promise<void> {
  let inFlight = 0;
  let lastChange = Date.now();
  const isTrpc = (url: string) => url.includes('/api/trpc/');
  const count = (delta: number) => (r: { url(): string }) => {
    if (!isTrpc(r.url())) return;
    inFlight += delta;
    lastChange = Date.now();
  };
  page.on('request', count(1));
  page.on('requestfinished', count(-1));
  page.on('requestfailed', count(-1));
  return async () => {
    const deadline = Date.now() + 30_000;
    while (Date.now() < deadline && (inFlight > 0 || Date.now() - lastChange < 150)) await sleep(25);
  };
}

export async function run(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-bench-annotate-'));
  fs.chmodSync(dataDir, 0o755);
  const env: NodeJS.ProcessEnv = { ...process.env, PAIRWISE_DATA_DIR: dataDir };
  delete env.DATABASE_URL;
  const serverUrl = process.env.TEST_DATABASE_URL;
  const database = `pairwise_bench_annotate_${Date.now()}`;
  if (serverUrl) {
    const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
    await admin.unsafe(`create database ${database}`);
    await admin.end();
    const u = new URL(serverUrl);
    u.pathname = `/${database}`;
    env.DATABASE_URL = u.toString();
  }

  let app: TRunningApp | null = null;
  let browser: Browser | null = null;
  try {
    console.log(`starting the app (${serverUrl ? 'TEST_DATABASE_URL server' : 'embedded PostgreSQL'}; builds first when the sources changed)…`);
    app = await startApp({ env, args: ['--demo'] });

    const arena = arenaLines(COMPARISONS);
    const lines = arena ?? generatedLines(COMPARISONS);
    const file = path.join(dataDir, 'bench-comparisons.jsonl');
    fs.writeFileSync(file, lines.join('\n') + '\n');
    const annotator = readDemoAccounts(dataDir).find((a) => a.role === 'annotator')!;
    for (const args of [
      ['project', 'create', '--slug', SLUG, '--name', 'Annotate bench'],
      ['member', 'add', '--project', SLUG, '--email', annotator.email, '--role', 'annotator'],
      ['import', '--project', SLUG, file],
    ]) {
      const result = await runCli(args, { env, timeoutMs: 120_000 });
      if (result.code !== 0) throw new Error(`cli ${args.join(' ')} failed:\n${result.stdout}\n${result.stderr}`);
    }

    browser = await launchChromium();
    const viewport = { width: 1440, height: 900 };
    const signInContext = await browser.newContext({ viewport });
    await signIn(await signInContext.newPage(), app.baseUrl, annotator);
    const storageState = await signInContext.storageState();
    await signInContext.close();

    // A fresh context (empty HTTP cache) so every script of the annotate page comes over the network.
    const context = await browser.newContext({ viewport, storageState });
    const page = await context.newPage();
    await page.addInitScript({ content: PAGE_PROBE });
    const scripts = new Map<string, Promise<Buffer | null>>();
    page.on('response', (response) => {
      if (/javascript/i.test(response.headers()['content-type'] ?? '') && !scripts.has(response.url())) scripts.set(response.url(), response.body().catch(() => null));
    });
    const settled = trackTrpc(page);
    await page.goto(`${app.baseUrl}/annotate/${SLUG}`);
    await page.getByRole('region', { name: 'Response B' }).waitFor({ timeout: 60_000 });
    await page.waitForLoadState('networkidle');
    const files = (await Promise.all([...scripts].map(async ([url, body]) => ({ name: new URL(url).pathname.split('/').pop()!, body: await body }))))
      .flatMap((f) => (f.body ? [{ name: f.name, raw: f.body.length, gzip: gzipSync(f.body).length }] : []))
      .sort((a, b) => b.gzip - a.gzip);
    const jsRawKb = files.reduce((n, f) => n + f.raw, 0) / 1024;
    const jsGzipKb = files.reduce((n, f) => n + f.gzip, 0) / 1024;

    const paintedMs: number[] = [];
    const committedMs: number[] = [];
    for (let i = 0; i < WARM_UP + JUDGMENTS; i++) {
      // An annotator reads before deciding: by then the previous save and the queue refill are done.
      await settled();
      const before = await page.evaluate(() => window.__bench.assignment);
      await page.keyboard.press(i % 2 === 0 ? 'a' : 'b');
      await page.keyboard.press(String((i % 4) + 1));
      await page.locator('fieldset button[aria-pressed="true"]').waitFor();
      await page.keyboard.press('Enter');
      await page.waitForFunction((previous) => window.__bench.assignment !== previous && window.__bench.paintedAt !== null, before, { timeout: 30_000 });
      const t = await page.evaluate(() => ({ ...window.__bench }));
      if (i < WARM_UP) continue;
      paintedMs.push(t.paintedAt! - t.enterAt!);
      committedMs.push(t.committedAt! - t.enterAt!);
    }
    await settled();
    const progress = await page.getByTestId('progress').textContent();
    await context.close();

    paintedMs.sort((a, b) => a - b);
    committedMs.sort((a, b) => a - b);
    const row = (label: string, values: number[]) =>
      `${label.padEnd(40)} ${percentile(values, 50).toFixed(1).padStart(8)} ${percentile(values, 95).toFixed(1).padStart(8)} ${values.at(-1)!.toFixed(1).padStart(8)}`;
    console.log(
      [
        '',
        `annotate bench: ${JUDGMENTS} judgments after ${WARM_UP} warm-up, ${COMPARISONS} comparisons (${arena ? 'arena-hard-v0.1, both answers with code blocks' : 'generated markdown with code blocks; ../shared/data absent'}), headless Chromium`,
        `${''.padEnd(40)} ${'p50 ms'.padStart(8)} ${'p95 ms'.padStart(8)} ${'max ms'.padStart(8)}`,
        row('Enter -> next comparison painted', paintedMs) + '   (goal: p95 < 100 ms)',
        row('Enter -> next comparison in the DOM', committedMs),
        `annotate page JavaScript: ${files.length} files, ${jsRawKb.toFixed(1)} KB raw, ${jsGzipKb.toFixed(1)} KB gzipped   (goal: < 250 KB gzipped)`,
        ...files.slice(0, 4).map((f) => `  ${f.name.padEnd(38)} ${(f.raw / 1024).toFixed(1).padStart(8)} KB raw ${(f.gzip / 1024).toFixed(1).padStart(7)} KB gzipped`),
        `progress shown at the end: ${progress}`,
      ].join('\n'),
    );
    console.log(JSON.stringify({ bench: 'annotate', p50_ms: round(percentile(paintedMs, 50)), p95_ms: round(percentile(paintedMs, 95)), js_gzip_kb: round(jsGzipKb) }));
  } finally {
    await browser?.close();
    const code = await app?.stop();
    if (app && code !== 0) console.error(`the app exited with code ${code}:\n${app.output().slice(-2000)}`);
    if (serverUrl) {
      const admin = postgres(serverUrl, { max: 1, onnotice: () => {} });
      await admin.unsafe(`drop database if exists ${database} with (force)`);
      await admin.end();
    }
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
