import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { rounds, runs } from '@/db/schema';
import type { TProject } from '@/server/projects/projects';
import { planPairs, promptRng, runGeneration, type TGenerationItem } from '@/server/sampling/generation';
import { generateJob } from '@/workers/jobs/generate';
import { runCli } from '../helpers/cli';
import { setupTestDatabase } from '../helpers/db';
import { makeProject } from '../helpers/factories';
import { defaultReply, startFakeVllm, type TFakeVllm } from '../helpers/fake-vllm';
import { addModel, addPrompts, addRun, lastUserText, runItemCount, waitFor } from '../helpers/sampling-fixtures';

const db = setupTestDatabase();
const fast = { retryBaseDelayMs: 5, retryMaxDelayMs: 50 };
let fake: TFakeVllm;
let source: TProject;
let policies: { id: number; name: string; apiModel: string }[];

beforeAll(async () => {
  fake = await startFakeVllm();
  source = await makeProject(db.current.handle);
  policies = [];
  for (const [i, apiModel] of ['gen-a', 'gen-b', 'gen-c'].entries()) {
    policies.push(await addModel(db.current.handle, { kind: 'policy', baseUrl: fake.baseUrl, apiModel, sampling: { temperature: 0.5 + i / 10 } }));
  }
});

afterAll(async () => {
  await fake.close();
});

beforeEach(() => {
  fake.clearFaults();
  fake.setLatency(0);
  fake.setReply(defaultReply);
});

let counter = 0;
async function newPrompts(n: number) {
  const texts = Array.from({ length: n }, () => `question ${counter++}`);
  return { ids: await addPrompts(db.current.handle, source.id, texts), texts };
}

interface TComparisonRow {
  id: number;
  prompt: string;
  metadata: Record<string, unknown>;
  judgments_required: number;
  models: string[];
  contents: string[];
  samplings: Record<string, unknown>[];
}

async function comparisonsOf(projectId: number): Promise<TComparisonRow[]> {
  const rows = await db.current.handle.sql<TComparisonRow[]>`
    select c.id::int as id, p.messages -> 0 ->> 'content' as prompt, c.metadata, c.judgments_required,
      array_agg(r.model order by cr.position) as models,
      array_agg(r.messages -> 0 ->> 'content' order by cr.position) as contents,
      array_agg(r.sampling order by cr.position) as samplings
    from comparisons c join prompts p on p.id = c.prompt_id
    join comparison_responses cr on cr.comparison_id = c.id join responses r on r.id = cr.response_id
    where c.project_id = ${projectId} group by c.id, p.messages order by c.id`;
  return rows;
}

describe('generation', () => {
  it('answers every prompt with every policy and pairs different models in the target project (all pairs)', async () => {
    const target = await makeProject(db.current.handle, { judgmentsRequired: 2 });
    const { ids, texts } = await newPrompts(4);
    const [round] = await db.current.handle.db.insert(rounds).values({ name: 'round 1', plan: {} }).returning();
    const run = await addRun(
      db.current.handle,
      'generate',
      { policyModelIds: policies.map((p) => p.id), prompts: { promptIds: ids }, projectSlug: target.slug, pairing: 'all-pairs', sampling: { max_tokens: 50 } },
      round!.id,
    );
    const before = fake.requests.length;
    const done = await runGeneration(db.current.handle, run.id, fast);
    expect(done?.error ?? null).toBeNull();
    expect(done).toMatchObject({ status: 'succeeded', progressDone: 4, progressTotal: 4 });
    expect(done!.metrics).toMatchObject({ comparisons: 12, existingComparisons: 0, pairing: 'all-pairs', requests: { chat: 12 } });

    const chats = fake.requests.slice(before).filter((r) => r.route === 'chat');
    expect(chats).toHaveLength(4 * 3);
    for (const chat of chats) expect(chat.body.n).toBeUndefined();

    const comparisons = await comparisonsOf(target.id);
    expect(comparisons).toHaveLength(12);
    for (const c of comparisons) {
      expect(new Set(c.models).size).toBe(2);
      expect(c.judgments_required).toBe(2);
      expect(c.metadata).toEqual({ source: 'generation', run: run.id, round: round!.id, models: c.models });
      c.models.forEach((model, i) => {
        const policy = policies.find((p) => p.name === model)!;
        expect(c.contents[i]).toBe(`answer 0 of ${policy.apiModel} to: ${c.prompt}`);
        expect(c.samplings[i]).toEqual({ temperature: 0.5 + policies.indexOf(policy) / 10, max_tokens: 50 });
      });
    }
    // Every prompt gets the three pairs, and each model appears on both sides somewhere.
    for (const text of texts) {
      const pairs = comparisons.filter((c) => c.prompt === text).map((c) => [...c.models].sort().join(' vs '));
      expect(pairs.sort()).toEqual([`${policies[0]!.name} vs ${policies[1]!.name}`, `${policies[0]!.name} vs ${policies[2]!.name}`, `${policies[1]!.name} vs ${policies[2]!.name}`].sort());
    }
    // One response per model and prompt, shared by that model's comparisons.
    const [counts] = await db.current.handle.sql<{ responses: number; prompts: number }[]>`
      select (select count(*)::int from responses r join prompts p on p.id = r.prompt_id where p.project_id = ${target.id}) as responses,
        (select count(*)::int from prompts where project_id = ${target.id}) as prompts`;
    expect(counts).toEqual({ responses: 12, prompts: 4 });

    const item = (await db.current.handle.sql<{ result: TGenerationItem }[]>`select result from run_items where run_id = ${run.id} and prompt_id = ${ids[0]!}`)[0]!.result;
    expect(item.comparisons).toHaveLength(3);
    expect(item.responses.map((r) => r.modelId).sort()).toEqual(policies.map((p) => p.id).sort());
  });

  it('draws one seeded pair of different models per prompt, asking only those two', async () => {
    const target = await makeProject(db.current.handle);
    const { ids } = await newPrompts(12);
    const run = await addRun(db.current.handle, 'generate', { policyModelIds: policies.map((p) => p.id), prompts: { promptIds: ids }, projectSlug: target.slug, seed: 7 });
    const before = fake.requests.length;
    const done = await runGeneration(db.current.handle, run.id, fast);
    expect(done?.status).toBe('succeeded');
    expect(fake.requests.slice(before).filter((r) => r.route === 'chat')).toHaveLength(12 * 2);
    const comparisons = await comparisonsOf(target.id);
    expect(comparisons).toHaveLength(12);
    const items = await db.current.handle.sql<{ prompt_id: string; result: TGenerationItem }[]>`select prompt_id, result from run_items where run_id = ${run.id}`;
    for (const row of items) {
      const [a, b] = planPairs(3, 'random-pair', promptRng(7, Number(row.prompt_id)))[0]!;
      expect(row.result.comparisons).toEqual([{ id: expect.any(Number), models: [policies[a!]!.name, policies[b!]!.name] }]);
    }
    // Over the prompts, the draw is not always the same pair or the same order.
    expect(new Set(comparisons.map((c) => c.models.join())).size).toBeGreaterThan(1);
  });

  it('resumes after a crash without asking finished prompts again, and a finished run is never rerun', async () => {
    fake.setLatency(10);
    const target = await makeProject(db.current.handle);
    const { ids, texts } = await newPrompts(20);
    const run = await addRun(db.current.handle, 'generate', { policyModelIds: [policies[0]!.id, policies[1]!.id], prompts: { promptIds: ids }, projectSlug: target.slug, concurrency: 2 });
    const crash = new AbortController();
    const first = runGeneration(db.current.handle, run.id, { ...fast, signal: crash.signal });
    await waitFor(async () => (await runItemCount(db.current.handle, run.id)) >= 5);
    crash.abort(new Error('simulated crash'));
    expect(await first).toMatchObject({ status: 'pending', error: null });

    const done = new Set((await db.current.handle.sql<{ id: string }[]>`select prompt_id as id from run_items where run_id = ${run.id}`).map((r) => Number(r.id)));
    // Each finished prompt has its comparison; nothing of an unfinished one was written.
    expect(await comparisonsOf(target.id)).toHaveLength(done.size);
    const idOf = new Map(texts.map((t, i) => [t, ids[i]!]));
    const before = fake.requests.length;
    const resumed = await runGeneration(db.current.handle, run.id, fast);
    expect(resumed).toMatchObject({ status: 'succeeded', progressDone: 20 });
    const asked = fake.requests.slice(before).filter((r) => r.route === 'chat').map((r) => idOf.get(lastUserText(r.body))!);
    expect(asked.filter((id) => done.has(id))).toEqual([]);
    expect(new Set(asked).size).toBe(20 - done.size);
    expect(asked).toHaveLength(2 * (20 - done.size));
    const comparisons = await comparisonsOf(target.id);
    expect(comparisons).toHaveLength(20);
    expect(new Set(comparisons.map((c) => c.prompt)).size).toBe(20);

    const again = fake.requests.length;
    expect(await generateJob.handle({ db: db.current.handle }, { runId: run.id })).toMatchObject({ status: 'succeeded', comparisons: 20 });
    expect(fake.requests.length).toBe(again);
  });

  it('fails with the failing model and prompt named, and stops on cancel', async () => {
    const target = await makeProject(db.current.handle);
    const { ids } = await newPrompts(2);
    const run = await addRun(db.current.handle, 'generate', { policyModelIds: [policies[0]!.id, policies[1]!.id], prompts: { promptIds: ids }, projectSlug: target.slug, maxRetries: 1, concurrency: 1 });
    fake.failAll(503, { route: 'chat', message: 'overloaded' });
    const failed = await runGeneration(db.current.handle, run.id, fast);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatch(/^prompt \d+: policy gen-[ab]-\w+: the endpoint answered 503: overloaded \(gave up after 2 attempts\)$/);
    expect(await generateJob.handle({ db: db.current.handle }, { runId: run.id })).toMatchObject({ status: 'failed', error: expect.stringContaining('503') });
    fake.clearFaults();

    fake.setLatency(30);
    const { ids: many } = await newPrompts(30);
    const long = await addRun(db.current.handle, 'generate', { policyModelIds: [policies[0]!.id, policies[2]!.id], prompts: { promptIds: many }, projectSlug: target.slug, concurrency: 2 });
    const running = runGeneration(db.current.handle, long.id, fast);
    await waitFor(async () => (await runItemCount(db.current.handle, long.id)) >= 2);
    await db.current.handle.db.update(runs).set({ cancelRequested: true }).where(eq(runs.id, long.id));
    expect(await running).toMatchObject({ status: 'cancelled' });
    const kept = await runItemCount(db.current.handle, long.id);
    expect(kept).toBeLessThan(30);
    expect(await generateJob.handle({ db: db.current.handle }, { runId: long.id })).toMatchObject({ status: 'cancelled' });
    expect(await runItemCount(db.current.handle, long.id)).toBe(kept);
  });

  it('refuses a spec with fewer than two models or an unknown target project', async () => {
    const { ids } = await newPrompts(1);
    const one = await addRun(db.current.handle, 'generate', { policyModelIds: [policies[0]!.id], prompts: { promptIds: ids }, projectSlug: source.slug });
    expect((await runGeneration(db.current.handle, one.id, fast))?.error).toBe('invalid spec: policyModelIds: generation pairs two different models: give two or more');
    const nowhere = await addRun(db.current.handle, 'generate', { policyModelIds: [policies[0]!.id, policies[1]!.id], prompts: { promptIds: ids }, projectSlug: 'nowhere' });
    expect((await runGeneration(db.current.handle, nowhere.id, fast))?.error).toBe('projectSlug: no project with slug nowhere');
  });
});

describe('npm run cli -- generate', () => {
  it('answers a project’s prompts with two registered policies and pairs them into another project, with progress', { timeout: 120_000 }, async () => {
    const target = await makeProject(db.current.handle);
    const prompts = await makeProject(db.current.handle);
    await addPrompts(db.current.handle, prompts.id, ['first cli question', 'second cli question', 'third cli question']);
    const result = await runCli(['generate', '--policy', policies[0]!.name, '--policy', policies[1]!.name, '--prompts-project', prompts.slug, '--project', target.slug], {
      env: { ...process.env, DATABASE_URL: db.current.url },
      timeoutMs: 110_000,
    });
    expect(result.stderr).toMatch(/generation run \d+/);
    expect(result.code, result.stderr).toBe(0);
    expect(result.stdout).toMatch(/created 3 comparison\(s\) in .* from 3 prompt\(s\)/);
    const rows = await comparisonsOf(target.id);
    expect(rows.map((r) => r.prompt).sort()).toEqual(['first cli question', 'second cli question', 'third cli question']);
    expect(rows.every((r) => new Set(r.models).size === 2)).toBe(true);

    const unknown = await runCli(['generate', '--policy', 'nope', '--policy', policies[1]!.name, '--prompts-project', prompts.slug, '--project', target.slug], {
      env: { ...process.env, DATABASE_URL: db.current.url },
    });
    expect(unknown.code).toBe(1);
    expect(unknown.stderr).toMatch(/nope/);
  });
});
