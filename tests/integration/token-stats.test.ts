import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { env as transformersEnv } from '@huggingface/transformers';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { TDbHandle } from '@/db/client';
import { localArtifactStore } from '@/server/artifacts/store';
import { jobs } from '@/server/jobs/queue';
import {
  APPROXIMATE_COUNTER_NAME,
  approximateCounter,
  countMessageTokens,
  describeTokenizer,
  loadTokenizer,
  MESSAGE_OVERHEAD_TOKENS,
  type TTokenCounter,
} from '@/server/ml/tokenizer';
import type { TProject } from '@/server/projects/projects';
import { getDataStats } from '@/server/quality/data-stats';
import { fillTokenCounts } from '@/server/quality/token-counts';
import { startWorker, type TRunningWorker } from '@/workers/run-worker';
import { makeTinyTokenizer } from '../fixtures/make-tiny-tokenizer';
import { runCli } from '../helpers/cli';
import { setupTestDatabase } from '../helpers/db';
import { callerFor, importLines, makeProject, makeUser, stopSharedQueue } from '../helpers/factories';

const db = setupTestDatabase();
let tokenizerDir: string;
let tiny: TTokenCounter;

beforeAll(async () => {
  const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-tiny-tokenizer-'));
  tokenizerDir = makeTinyTokenizer(path.join(root, 'tiny')).folder;
  tiny = await loadTokenizer({ tokenizer: tokenizerDir, cacheDir: path.join(root, 'cache') });
});

afterAll(async () => {
  await stopSharedQueue();
  fs.rmSync(path.dirname(tokenizerDir), { recursive: true, force: true });
});

const line = (id: string, prompt: unknown, responses: string[], metadata?: object) =>
  JSON.stringify({ id, prompt, responses: responses.map((content, i) => ({ content, model: `m${i + 1}` })), ...(metadata ? { metadata } : {}) });

async function tokenCounts(handle: TDbHandle, project: TProject) {
  const prompts = await handle.sql<{ id: string; token_count: number | null; messages: { role: string; content: string }[] }[]>`
    select id, token_count, messages from prompts where project_id = ${project.id} order by id`;
  const responses = await handle.sql<{ id: string; token_count: number | null; messages: { role: string; content: string }[] }[]>`
    select r.id, r.token_count, r.messages from responses r join prompts p on p.id = r.prompt_id where p.project_id = ${project.id} order by r.id`;
  return { prompts, responses };
}

describe('the tokenizer', () => {
  it('loads the tiny tokenizer from a local folder through AutoTokenizer, with remote loading off', () => {
    expect(tiny.kind).toBe('tokenizer');
    expect(tiny.name).toBe(tokenizerDir);
    expect(transformersEnv.allowRemoteModels).toBe(false);
    // Words of the vocabulary are one token each, punctuation too; case does not matter.
    expect(tiny.countText('The cat sat on the mat.')).toBe(7);
    expect(tiny.countText('Hello, world!')).toBe(4);
    // Unknown words fall apart into characters, joined by the merges: j·u·m·p·ing, w·a·l·k·ed + q·u·i·c·k·ly.
    expect(tiny.countText('jumping')).toBe(5);
    expect(tiny.countText('walked quickly')).toBe(11);
    expect(tiny.countText('')).toBe(0);
    expect(tiny.countText('user')).toBe(1);
  });

  it('counts a message list as content + role + the chat template’s per-message overhead', () => {
    expect(MESSAGE_OVERHEAD_TOKENS).toBe(4);
    const messages = [
      { role: 'system' as const, content: 'Be good.' },
      { role: 'user' as const, content: 'hello world' },
      {
        role: 'assistant' as const,
        content: '',
        tool_calls: [{ type: 'function' as const, function: { name: 'sum', arguments: '{"a":1}' } }],
      },
    ];
    // `{` and `}` are not in the vocabulary: `{"` → <unk> "; a; `":` → " :; 1; `}` → <unk>.
    expect(tiny.countText('{"a":1}')).toBe(7);
    // system: 4 + 1 + 3 (be · good · .); user: 4 + 1 + 2; assistant: 4 + 1 + 0 and its call, sum (1) + 7.
    expect(countMessageTokens(tiny, messages)).toBe(8 + 7 + 5 + 8);
  });

  it('falls back to ceil(characters / 4) when no tokenizer is configured, and says so', async () => {
    const counter = await loadTokenizer({});
    expect(counter).toMatchObject({ kind: 'approximate', name: APPROXIMATE_COUNTER_NAME });
    expect(counter.countText('')).toBe(0);
    expect(counter.countText('abcd')).toBe(1);
    expect(counter.countText('abcde')).toBe(2);
    // Characters, not UTF-16 units: four emoji are four characters.
    expect(counter.countText('😀😀😀😀')).toBe(1);
    expect(countMessageTokens(approximateCounter(), [{ role: 'user', content: 'x'.repeat(40) }])).toBe(4 + 1 + 10);
    expect(describeTokenizer({})).toEqual({ kind: 'approximate', name: APPROXIMATE_COUNTER_NAME });
    expect(describeTokenizer({ tokenizer: '/models/llama' })).toEqual({ kind: 'tokenizer', name: '/models/llama' });
  });

  it('loads a hub id offline from a copy in the cache folder, without asking the hub', async () => {
    const cacheDir = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-hub-cache-'));
    try {
      makeTinyTokenizer(path.join(cacheDir, 'some-org', 'tiny'));
      const counter = await loadTokenizer({ tokenizer: 'some-org/tiny', cacheDir });
      expect(counter).toMatchObject({ kind: 'tokenizer', name: 'some-org/tiny' });
      expect(counter.countText('The cat sat on the mat.')).toBe(7);
      expect(transformersEnv.allowRemoteModels).toBe(false);
    } finally {
      fs.rmSync(cacheDir, { recursive: true, force: true });
    }
  });

  it('refuses a folder without tokenizer files, and a hub id while remote models are off, instead of guessing', async () => {
    const empty = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-no-tokenizer-'));
    try {
      await expect(loadTokenizer({ tokenizer: empty })).rejects.toThrow(/tokenizer\.json is missing/);
      await expect(loadTokenizer({ tokenizer: 'some-org/not-downloaded', cacheDir: empty })).rejects.toThrow(/PAIRWISE_ALLOW_REMOTE_MODELS=1/);
    } finally {
      fs.rmSync(empty, { recursive: true, force: true });
    }
  });
});

describe('filling token counts', () => {
  it('counts every prompt and response of the project in batches, and a second run changes nothing', async () => {
    const { handle } = db.current;
    const project = await makeProject(handle);
    const other = await makeProject(handle);
    await importLines(handle, project, [
      line('a', 'the cat sat', ['hello world', 'jumping']),
      line('b', 'the cat sat', ['a dog', 'the sun is blue']),
      line('c', [{ role: 'user', content: 'hello' }, { role: 'assistant', content: 'hello' }, { role: 'user', content: 'why' }], ['because', 'blue sky', 'walked']),
    ]);
    await importLines(handle, other, [line('x', 'untouched', ['one', 'two'])]);
    // A count already present is kept (the job fills only nulls).
    const [kept] = await handle.sql<{ id: string }[]>`
      update responses set token_count = 999 where id = (select min(r.id) from responses r join prompts p on p.id = r.prompt_id where p.project_id = ${project.id}) returning id`;

    const batches: number[] = [];
    const first = await fillTokenCounts(handle.db, { projectId: project.id, counter: tiny, batchSize: 2, onBatch: (d) => batches.push(d.prompts + d.responses) });
    // Two distinct prompts; seven responses, one of them already counted.
    expect(first).toEqual({ prompts: 2, responses: 6 });
    expect(batches.length).toBeGreaterThanOrEqual(4);

    const { prompts, responses } = await tokenCounts(handle, project);
    for (const p of prompts) expect(p.token_count).toBe(countMessageTokens(tiny, p.messages as never));
    for (const r of responses) expect(r.token_count).toBe(r.id === kept!.id ? 999 : countMessageTokens(tiny, r.messages as never));
    // "the cat sat": 4 + 1 (user) + 3; the three-turn prompt: 3 × (4 + 1) + 1 + 1 + 1.
    expect(prompts.map((p) => p.token_count)).toEqual([8, 18]);

    const second = await fillTokenCounts(handle.db, { projectId: project.id, counter: tiny, batchSize: 2 });
    expect(second).toEqual({ prompts: 0, responses: 0 });
    expect(await tokenCounts(handle, project)).toEqual({ prompts, responses });
    // Another project's rows are left alone.
    const untouched = await tokenCounts(handle, other);
    expect([...untouched.prompts, ...untouched.responses].every((r) => r.token_count === null)).toBe(true);
  });
});

describe('the count-tokens job, run by the worker', () => {
  let worker: TRunningWorker | undefined;
  const log: string[] = [];

  beforeAll(async () => {
    worker = await startWorker(db.current.url, { db: db.current.handle, store: localArtifactStore(fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-worker-'))) }, (l) => log.push(l));
  });
  afterAll(async () => {
    await worker?.stop();
  });

  async function until<T>(what: string, probe: () => Promise<T | null | undefined>, timeoutMs = 20_000): Promise<T> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const value = await probe();
      if (value !== null && value !== undefined) return value;
      if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}; worker log:\n${log.join('\n')}`);
      await new Promise((r) => setTimeout(r, 200));
    }
  }

  it('fills the counts when the dashboard asks (dataStats.countTokens), with the configured counter, and is idempotent', async () => {
    const { handle, url } = db.current;
    const [admin, annotator] = [await makeUser(handle, 'admin'), await makeUser(handle, 'annotator')];
    const project = await makeProject(handle, { members: [{ user: annotator, role: 'annotator' }] });
    await importLines(handle, project, [line('a', 'Tell me a story about the sea.', ['Once upon a time…', 'The sea was calm.']), line('b', 'Hi', ['Hello!', 'Hey there.'])]);

    const before = await callerFor(handle, url, admin).dataStats.get({ project: project.slug });
    expect(before.uncounted).toEqual({ prompts: 2, responses: 4 });
    expect(before.total).toMatchObject({ comparisons: 2, countedComparisons: 0, avgTurns: 1, avgTokensPerExample: null });
    // Only project admins see the table or start the job.
    await expect(callerFor(handle, url, annotator).dataStats.get({ project: project.slug })).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await expect(callerFor(handle, url, annotator).dataStats.countTokens({ project: project.slug })).rejects.toMatchObject({ code: 'FORBIDDEN' });

    const { jobId } = await callerFor(handle, url, admin).dataStats.countTokens({ project: project.slug });
    const done = await until('the job to complete', async () => {
      const job = await worker!.boss.getJobById(jobs.countTokens.name, jobId);
      return job?.state === 'completed' ? job : null;
    });
    // The worker counts with whatever this environment configures (the fallback unless PAIRWISE_TOKENIZER is set).
    const counter = await loadTokenizer();
    expect(done.output).toEqual({ tokenizer: counter.kind, prompts: 2, responses: 4 });
    const counted = await tokenCounts(handle, project);
    for (const row of [...counted.prompts, ...counted.responses]) expect(row.token_count).toBe(countMessageTokens(counter, row.messages as never));

    const after = await callerFor(handle, url, admin).dataStats.get({ project: project.slug });
    expect(after.uncounted).toEqual({ prompts: 0, responses: 0 });
    expect(after.total.countedComparisons).toBe(2);
    expect(after.tokenizer).toEqual(describeTokenizer());

    // The same job again (a retry, or a second click): nothing to do, nothing changes.
    const again = await worker!.boss.send(jobs.countTokens.name, { projectId: project.id });
    const repeated = await until('the repeated job', async () => {
      const job = await worker!.boss.getJobById(jobs.countTokens.name, again!);
      return job?.state === 'completed' ? job : null;
    });
    expect(repeated.output).toMatchObject({ prompts: 0, responses: 0 });
    expect(await tokenCounts(handle, project)).toEqual(counted);
  });

  it('is queued by `cli import`, and counts what was imported', async () => {
    const { handle, url } = db.current;
    const project = await makeProject(handle);
    const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-import-')), 'lines.jsonl');
    fs.writeFileSync(file, [line('a', 'one', ['two', 'three']), line('b', 'four', ['five', 'six'])].join('\n') + '\n');
    const result = await runCli(['import', '--project', project.slug, file], { env: { ...process.env, DATABASE_URL: url } });
    expect(result.code, result.stderr).toBe(0);
    expect(result.stderr).not.toContain('could not queue');
    const queued = await handle.sql<{ id: string }[]>`
      select id from pgboss.job where name = ${jobs.countTokens.name} and data->>'projectId' = ${String(project.id)}`;
    expect(queued.length).toBe(1);
    await until('the imported rows to be counted', async () => {
      const stats = await getDataStats(handle.db, project.id);
      return stats.uncounted.prompts + stats.uncounted.responses === 0 ? stats : null;
    });
  });
});

describe('the data-statistics table', () => {
  it('computes Llama 3’s figures over counted rows, overall and per topic', async () => {
    const { handle } = db.current;
    const project = await makeProject(handle);
    const multiTurn = [
      { role: 'system', content: 's' },
      { role: 'user', content: 'u1' },
      { role: 'assistant', content: 'a1' },
      { role: 'user', content: 'u2' },
    ];
    await importLines(handle, project, [
      line('p1', 'first', ['r1', 'r2'], { topic: 'coding' }),
      line('p2', multiTurn, ['r3', 'r4', 'r5'], { topic: 'coding' }),
      line('p3', 'third', ['r6', 'r7'], { topic: 'general' }),
      line('p4', 'fourth', ['r8', 'r9']),
    ]);
    // Known counts: prompts 10, 40, 20, (uncounted); responses by their text.
    const responseTokens: Record<string, number | null> = { r1: 100, r2: 200, r3: 30, r4: 60, r5: 90, r6: 5, r7: null, r8: 1, r9: 1 };
    await handle.sql`update prompts p set token_count = v.n from (values ('first', 10), ('third', 20)) as v(text, n)
      where p.project_id = ${project.id} and p.messages->0->>'content' = v.text`;
    await handle.sql`update prompts set token_count = 40 where project_id = ${project.id} and jsonb_array_length(messages) = 4`;
    for (const [text, n] of Object.entries(responseTokens)) {
      if (n === null) continue;
      await handle.sql`update responses r set token_count = ${n} from prompts p
        where p.id = r.prompt_id and p.project_id = ${project.id} and r.messages->0->>'content' = ${text}`;
    }

    const stats = await getDataStats(handle.db, project.id, { kind: 'approximate', name: 'test' });
    // p3 lacks r7's count and p4 its prompt's: both stay out of the token averages.
    expect(stats.uncounted).toEqual({ prompts: 1, responses: 1 });
    expect(stats.tokenizer).toEqual({ kind: 'approximate', name: 'test' });
    expect(stats.total).toMatchObject({ topic: null, comparisons: 4, share: 1, countedComparisons: 2 });
    // Turns: user messages per prompt, 1 + 2 + 1 + 1, over all comparisons.
    expect(stats.total.avgTurns).toBeCloseTo(5 / 4, 10);
    // Examples: p1 = 10 + 100 + 200 = 310; p2 = 40 + 2 × mean(30, 60, 90) = 160.
    expect(stats.total.avgTokensPerExample).toBeCloseTo((310 + 160) / 2, 10);
    expect(stats.total.avgPromptTokens).toBeCloseTo((10 + 40) / 2, 10);
    expect(stats.total.avgResponseTokens).toBeCloseTo((100 + 200 + 30 + 60 + 90) / 5, 10);

    expect(stats.byTopic.map((r) => [r.topic, r.comparisons, r.countedComparisons])).toEqual([
      ['coding', 2, 2],
      ['general', 1, 0],
      // Comparisons without a topic come last.
      [null, 1, 0],
    ]);
    const coding = stats.byTopic[0]!;
    expect(coding.share).toBeCloseTo(0.5, 10);
    expect(coding.avgTurns).toBeCloseTo(1.5, 10);
    expect(coding.avgTokensPerExample).toBeCloseTo(235, 10);
    const general = stats.byTopic[1]!;
    expect(general).toMatchObject({ avgTurns: 1, avgTokensPerExample: null, avgPromptTokens: null, avgResponseTokens: null });
  });

  it('answers zeros and nulls for an empty project, and no topic rows when nothing has a topic', async () => {
    const { handle } = db.current;
    const empty = await makeProject(handle);
    const stats = await getDataStats(handle.db, empty.id);
    expect(stats.total).toEqual({
      topic: null,
      comparisons: 0,
      share: 0,
      countedComparisons: 0,
      avgTurns: null,
      avgTokensPerExample: null,
      avgPromptTokens: null,
      avgResponseTokens: null,
    });
    expect(stats.byTopic).toEqual([]);
    expect(stats.uncounted).toEqual({ prompts: 0, responses: 0 });

    const plain = await makeProject(handle);
    await importLines(handle, plain, [line('a', 'x', ['y', 'z'])]);
    expect((await getDataStats(handle.db, plain.id)).byTopic).toEqual([]);
  });
});
