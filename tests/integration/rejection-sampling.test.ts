import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { eq } from 'drizzle-orm';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { datasetVersionProjects, datasetVersions, runs } from '@/db/schema';
import { localArtifactStore } from '@/server/artifacts/store';
import { streamVersionExport, versionKeys } from '@/server/datasets/version-files';
import type { TProject } from '@/server/projects/projects';
import { runRejectionSampling, type TRejectionItem } from '@/server/sampling/rejection-sampling';
import { whenNotHeld } from '@/server/runs/run-state';
import type { TSftVersionManifest } from '@/server/sampling/sft-version';
import { rejectionSamplingJob } from '@/workers/jobs/rejection-sampling';
import { makeTinyRewardModel, tinyRewardScore } from '../fixtures/make-tiny-reward-model';
import { setupTestDatabase } from '../helpers/db';
import { makeProject } from '../helpers/factories';
import { defaultReply, startFakeVllm, type TFakeVllm } from '../helpers/fake-vllm';
import { collect, readWithHyparquet } from '../helpers/parquet-read';
import { addModel, addPrompts, addRun, lastUserText, runItemCount, waitFor } from '../helpers/sampling-fixtures';

const db = setupTestDatabase();
const root = fs.mkdtempSync(path.join(os.tmpdir(), 'pairwise-rs-'));
const store = localArtifactStore(path.join(root, 'artifacts'));
const fast = { retryBaseDelayMs: 5, retryMaxDelayMs: 50 };
let fake: TFakeVllm;
let project: TProject;
let policyId: number;
let rewardId: number;

beforeAll(async () => {
  fake = await startFakeVllm();
  project = await makeProject(db.current.handle);
  policyId = (await addModel(db.current.handle, { kind: 'policy', baseUrl: fake.baseUrl, apiModel: 'policy-a', sampling: { temperature: 0.7, max_tokens: 64 } })).id;
  rewardId = (await addModel(db.current.handle, { kind: 'reward', baseUrl: fake.baseUrl, apiModel: 'rm-a' })).id;
});

afterAll(async () => {
  await fake.close();
  fs.rmSync(root, { recursive: true, force: true });
});

beforeEach(() => {
  fake.clearFaults();
  fake.setLatency(0);
  fake.setMaxN(undefined);
  fake.setReply(defaultReply);
});

let promptCounter = 0;
async function newPrompts(n: number): Promise<{ ids: number[]; texts: string[] }> {
  const texts = Array.from({ length: n }, () => `prompt ${promptCounter++} please`);
  return { ids: await addPrompts(db.current.handle, project.id, texts), texts };
}

async function items(runId: number): Promise<Map<number, TRejectionItem>> {
  const rows = await db.current.handle.sql<{ prompt_id: string; result: TRejectionItem }[]>`select prompt_id, result from run_items where run_id = ${runId}`;
  return new Map(rows.map((r) => [Number(r.prompt_id), r.result]));
}

async function text(chunks: AsyncIterable<string | Buffer>): Promise<string> {
  return (await collect(chunks)).toString('utf8');
}

/** Sample i of prompt j says "good" (i + j) mod k times: the best sample moves with the prompt. */
function rotatingReply(k: number) {
  return ({ messages, choice }: { messages: { role: string; content: string }[]; choice: number }) => {
    const j = Number(/prompt (\d+)/.exec(lastUserText({ messages }))![1]);
    return `${'good '.repeat((choice + j) % k)}reply ${choice}`.trim();
  };
}

describe('rejection sampling', () => {
  it('keeps the best of K by the reward model, records every score, and writes a downloadable SFT version', async () => {
    const k = 4;
    fake.setReply(rotatingReply(k));
    const { ids, texts } = await newPrompts(5);
    const run = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: policyId, rewardModelId: rewardId, prompts: { promptIds: ids }, k, sampling: { max_tokens: 32 } });
    const before = fake.requests.length;
    const done = await runRejectionSampling(db.current.handle, store, run.id, fast);
    expect(done?.error ?? null).toBeNull();
    expect(done?.status).toBe('succeeded');
    expect(done).toMatchObject({ progressDone: 5, progressTotal: 5 });

    const sent = fake.requests.slice(before);
    const chats = sent.filter((r) => r.route === 'chat');
    // One request of n = k per prompt, with the model's sampling and the run's override on top.
    expect(chats).toHaveLength(5);
    for (const chat of chats) expect(chat.body).toMatchObject({ model: 'policy-a', n: k, temperature: 0.7, max_tokens: 32, stream: false });
    const classify = sent.filter((r) => r.route === 'classify');
    expect(classify).toHaveLength(5 * k);
    for (const c of classify) {
      expect(c.body).toMatchObject({ model: 'rm-a', use_activation: false });
      expect(c.body.messages!.map((m) => m.role)).toEqual(['user', 'assistant']);
    }

    const got = await items(run.id);
    expect(got.size).toBe(5);
    for (const [i, id] of ids.entries()) {
      const item = got.get(id)!;
      const j = Number(/prompt (\d+)/.exec(texts[i]!)![1]);
      expect(item.samples.map((s) => s.score)).toEqual(Array.from({ length: k }, (_, choice) => (choice + j) % k));
      expect(item.best.index).toBe((k - 1 - (j % k) + k) % k);
      expect(item.best.score).toBe(k - 1);
      expect(item.best.message).toEqual({ role: 'assistant', content: `${'good '.repeat(k - 1)}reply ${item.best.index}` });
      expect(item.samples.every((s) => s.content === undefined)).toBe(true);
    }

    // The SFT version: recorded on the run, files and manifest, downloadable as sft and parquet only.
    expect(done!.outputVersionId).not.toBeNull();
    const [version] = await db.current.handle.db.select().from(datasetVersions).where(eq(datasetVersions.id, done!.outputVersionId!));
    expect(version).toMatchObject({ kind: 'sft', status: 'succeeded', artifactPrefix: versionKeys(version!.id).prefix });
    const manifest = version!.manifest as unknown as TSftVersionManifest;
    expect(manifest.counts).toMatchObject({ conversations: 5, samples: 5 * k, train: 5, test: 0 });
    expect(manifest.scores.best).toEqual({ count: 5, mean: k - 1, min: k - 1, max: k - 1 });
    expect(manifest.scores.all).toEqual({ count: 5 * k, mean: (k - 1) / 2, min: 0, max: k - 1 });
    expect(manifest.lineage.run.id).toBe(run.id);
    expect(manifest.lineage.policyModel.id).toBe(policyId);
    expect(manifest.lineage.rewardModel.id).toBe(rewardId);
    expect(manifest.lineage.sourcePrompts.projects).toEqual([{ id: project.id, slug: project.slug, name: project.name, prompts: 5 }]);
    expect(manifest.contentHash).toBe(version!.contentHash);
    expect(JSON.parse(fs.readFileSync(path.join(root, 'artifacts', versionKeys(version!.id).manifest), 'utf8'))).toEqual(manifest);
    const projectsOfVersion = await db.current.handle.db.select().from(datasetVersionProjects).where(eq(datasetVersionProjects.versionId, version!.id));
    expect(projectsOfVersion.map((p) => p.projectId)).toEqual([project.id]);

    const sft = (await text(streamVersionExport(store, version!.id, { format: 'sft', split: 'train' }))).trim().split('\n').map((l) => JSON.parse(l));
    expect(sft).toHaveLength(5);
    expect(sft[0]).toEqual({ messages: [{ role: 'user', content: texts[0] }, got.get(ids[0]!)!.best.message] });
    expect(await text(streamVersionExport(store, version!.id, { format: 'sft', split: 'all' }))).toBe(sft.map((l) => JSON.stringify(l) + '\n').join(''));
    const parquet = await readWithHyparquet(await collect(streamVersionExport(store, version!.id, { format: 'parquet', split: 'train' })));
    expect(parquet.rows).toHaveLength(5);
    expect((parquet.rows[0]!.messages as { content: string }[]).map((m) => m.content)).toEqual([texts[0], got.get(ids[0]!)!.best.message.content]);
    await expect(text(streamVersionExport(store, version!.id, { format: 'trl', split: 'train' }))).rejects.toThrow(/holds SFT conversations.*sft or parquet, not trl/);
    await expect(text(streamVersionExport(store, version!.id, { format: 'sft', split: 'test' }))).rejects.toThrow(/no test split/);

    // Run metrics say what was asked.
    expect(done!.metrics).toMatchObject({ k, requests: { chat: 5, reward: 5 * k, retries: 0 }, sampling: { temperature: 0.7, max_tokens: 32 } });
  });

  it('gives each sample a system prompt, round-robin, one request per system prompt; the SFT line keeps the original prompt', async () => {
    const { ids, texts } = await newPrompts(1);
    const [withOwnSystem] = await addPrompts(db.current.handle, project.id, [
      [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: `prompt ${promptCounter++} with a system message` },
      ],
    ]);
    const systemPrompts = ['Answer in a list.', 'Answer in one paragraph.'];
    const run = await addRun(db.current.handle, 'rejection-sampling', {
      policyModelId: policyId,
      rewardModelId: rewardId,
      prompts: { promptIds: [ids[0]!, withOwnSystem!] },
      k: 5,
      systemPrompts,
      keepSamples: true,
      concurrency: 1,
    });
    const before = fake.requests.length;
    const done = await runRejectionSampling(db.current.handle, store, run.id, fast);
    expect(done?.status).toBe('succeeded');
    const chats = fake.requests.slice(before).filter((r) => r.route === 'chat');
    expect(chats).toHaveLength(4);
    const forFirst = chats.filter((c) => lastUserText(c.body) === texts[0]);
    expect(forFirst.map((c) => [c.body.messages![0], c.body.n]).sort()).toEqual([
      [{ role: 'system', content: 'Answer in a list.' }, 3],
      [{ role: 'system', content: 'Answer in one paragraph.' }, 2],
    ].sort());
    const forSecond = chats.filter((c) => lastUserText(c.body) !== texts[0]);
    expect(forSecond.map((c) => c.body.messages![0]!.content).sort()).toEqual(['Answer in a list.\n\nYou are terse.', 'Answer in one paragraph.\n\nYou are terse.']);
    expect(forSecond.every((c) => c.body.messages!.length === 2)).toBe(true);

    const item = (await items(run.id)).get(ids[0]!)!;
    expect(item.samples.map((s) => s.systemPrompt)).toEqual([0, 1, 0, 1, 0]);
    expect(item.samples.every((s) => s.content?.role === 'assistant')).toBe(true);
    // Scoring sees the prompt as the annotators wrote it, without the steering system prompt.
    const classify = fake.requests.slice(before).filter((r) => r.route === 'classify' && r.body.messages![0]!.content === texts[0]);
    expect(classify).toHaveLength(5);

    const lines = (await text(streamVersionExport(store, done!.outputVersionId!, { format: 'sft', split: 'train' }))).trim().split('\n').map((l) => JSON.parse(l));
    expect(lines.map((l) => l.messages.slice(0, -1))).toEqual([
      [{ role: 'user', content: texts[0] }],
      [
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: expect.stringContaining('with a system message') },
      ],
    ]);
  });

  it('asks for the rest when the endpoint gives fewer samples than n', async () => {
    fake.setMaxN(1);
    const { ids } = await newPrompts(2);
    const run = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: policyId, rewardModelId: rewardId, prompts: { promptIds: ids }, k: 3 });
    const before = fake.requests.length;
    const done = await runRejectionSampling(db.current.handle, store, run.id, fast);
    expect(done?.status).toBe('succeeded');
    const chats = fake.requests.slice(before).filter((r) => r.route === 'chat');
    expect(chats).toHaveLength(2 * 3);
    expect(chats.filter((c) => c.body.n === 3)).toHaveLength(2);
    for (const item of (await items(run.id)).values()) expect(item.samples).toHaveLength(3);
  });

  it('retries a 429 after the Retry-After the server asked for, then succeeds', async () => {
    const { ids } = await newPrompts(1);
    const run = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: policyId, rewardModelId: rewardId, prompts: { promptIds: ids }, k: 2 });
    fake.failNext(1, 429, { route: 'chat', retryAfter: '1' });
    const before = fake.requests.length;
    const done = await runRejectionSampling(db.current.handle, store, run.id, fast);
    expect(done?.status).toBe('succeeded');
    const chats = fake.requests.slice(before).filter((r) => r.route === 'chat');
    expect(chats.map((c) => c.status)).toEqual([429, 200]);
    // The backoff alone would be a few milliseconds: the wait is the server's second.
    expect(chats[1]!.at - chats[0]!.at).toBeGreaterThanOrEqual(950);
    expect(done!.metrics).toMatchObject({ requests: { chat: 2, reward: 2, retries: 1 } });
  });

  it('fails the run with a clear error when a 500 storm outlasts maxRetries, and a retry resumes it', async () => {
    const { ids } = await newPrompts(3);
    const run = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: policyId, rewardModelId: rewardId, prompts: { promptIds: ids }, k: 2, maxRetries: 2, concurrency: 1 });
    fake.failAll(500, { route: 'classify', message: 'CUDA out of memory' });
    const before = fake.requests.length;
    const failed = await runRejectionSampling(db.current.handle, store, run.id, fast);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toMatch(/^prompt \d+: reward model rm-a-\w+: the endpoint answered 500: CUDA out of memory \(gave up after 3 attempts\)$/);
    expect(failed?.finishedAt).not.toBeNull();
    expect(failed?.outputVersionId).toBeNull();
    // Three attempts at most of each scoring request in flight (two prompts of two samples); none after the run failed.
    const storm = fake.requests.slice(before).filter((r) => r.route === 'classify');
    expect(storm.length).toBeGreaterThanOrEqual(3);
    expect(storm.length).toBeLessThanOrEqual(2 * 2 * 3);
    // The job of a failed run resumes it (a failure is final only until the job is enqueued again); still failing here.
    expect(await rejectionSamplingJob.handle({ db: db.current.handle, store }, { runId: run.id })).toMatchObject({ status: 'failed', error: expect.stringMatching(/^prompt \d+: .*500/) });

    fake.clearFaults();
    const resumed = await runRejectionSampling(db.current.handle, store, run.id, fast);
    expect(resumed).toMatchObject({ status: 'succeeded', error: null, progressDone: 3 });
    expect(resumed!.attempt).toBe(failed!.attempt);
    expect(resumed!.externalId).not.toBe(failed!.externalId);
  });

  it('fails at once on a setup error (4xx) and on a bad spec, naming the field', async () => {
    const { ids } = await newPrompts(1);
    const broken = await addModel(db.current.handle, { kind: 'policy', baseUrl: fake.baseUrl, apiModel: 'keyed', apiKeyEnv: 'TEST_UNSET_API_KEY' });
    const run = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: broken.id, rewardModelId: rewardId, prompts: { promptIds: ids }, k: 2 });
    const failed = await runRejectionSampling(db.current.handle, store, run.id, fast);
    expect(failed?.status).toBe('failed');
    expect(failed?.error).toContain('environment variable TEST_UNSET_API_KEY is not set');

    const bad = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: policyId, rewardModelId: null, prompts: { promptIds: ids } });
    expect((await runRejectionSampling(db.current.handle, store, bad.id, fast))?.error).toMatch(/^invalid spec: rewardModelId: /);
    const wrongKind = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: rewardId, rewardModelId: rewardId, prompts: { promptIds: ids } });
    expect((await runRejectionSampling(db.current.handle, store, wrongKind.id, fast))?.error).toMatch(/^policyModelId: model rm-a-\w+ is a reward model, not a policy model$/);
    const noPrompts = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: policyId, rewardModelId: rewardId, prompts: { projectSlug: 'no-such-project' } });
    expect((await runRejectionSampling(db.current.handle, store, noPrompts.id, fast))?.error).toBe('prompts.projectSlug: no project with slug no-such-project');
  });

  it('stops when its cancel is requested, keeps what was done, and a later job marks nothing new', async () => {
    fake.setLatency(30);
    const { ids } = await newPrompts(40);
    const run = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: policyId, rewardModelId: rewardId, prompts: { promptIds: ids }, k: 2, concurrency: 2 });
    const running = runRejectionSampling(db.current.handle, store, run.id, fast);
    await waitFor(async () => (await runItemCount(db.current.handle, run.id)) >= 3);
    await db.current.handle.db.update(runs).set({ cancelRequested: true }).where(eq(runs.id, run.id));
    const asked = Date.now();
    const cancelled = await running;
    expect(Date.now() - asked).toBeLessThan(2_000);
    expect(cancelled).toMatchObject({ status: 'cancelled', error: null, outputVersionId: null });
    const kept = await runItemCount(db.current.handle, run.id);
    expect(kept).toBeGreaterThanOrEqual(3);
    expect(kept).toBeLessThan(40);

    const before = fake.requests.length;
    expect(await rejectionSamplingJob.handle({ db: db.current.handle, store }, { runId: run.id })).toMatchObject({ status: 'cancelled' });
    expect(fake.requests.length).toBe(before);
    expect(await runItemCount(db.current.handle, run.id)).toBe(kept);
  });

  it('resumes after a crash midway without asking finished prompts again', async () => {
    fake.setLatency(10);
    const { ids, texts } = await newPrompts(24);
    const run = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: policyId, rewardModelId: rewardId, prompts: { promptIds: ids }, k: 3, concurrency: 3 });
    const crash = new AbortController();
    const first = runRejectionSampling(db.current.handle, store, run.id, { ...fast, signal: crash.signal });
    await waitFor(async () => (await runItemCount(db.current.handle, run.id)) >= 6);
    crash.abort(new Error('simulated crash'));
    const interrupted = await first;
    expect(interrupted).toMatchObject({ status: 'pending', error: null, outputVersionId: null });

    const doneBefore = new Set((await items(run.id)).keys());
    expect(doneBefore.size).toBeGreaterThanOrEqual(6);
    expect(doneBefore.size).toBeLessThan(24);
    const textOf = new Map(ids.map((id, i) => [texts[i]!, id]));
    const before = fake.requests.length;
    const resumed = await runRejectionSampling(db.current.handle, store, run.id, fast);
    expect(resumed).toMatchObject({ status: 'succeeded', progressDone: 24, progressTotal: 24 });

    const asked = fake.requests.slice(before);
    const askedPrompts = new Set(asked.filter((r) => r.route === 'chat').map((r) => textOf.get(lastUserText(r.body))!));
    expect([...askedPrompts].filter((id) => doneBefore.has(id))).toEqual([]);
    expect(askedPrompts.size).toBe(24 - doneBefore.size);
    expect(asked.filter((r) => r.route === 'chat')).toHaveLength(24 - doneBefore.size);
    expect(asked.filter((r) => r.route === 'classify')).toHaveLength(3 * (24 - doneBefore.size));
    const lines = (await text(streamVersionExport(store, resumed!.outputVersionId!, { format: 'sft', split: 'train' }))).trim().split('\n');
    expect(lines).toHaveLength(24);
  });

  it('takes over a run whose worker died (stale heartbeat), leaves one held by a live worker alone, and never reruns a finished one', async () => {
    const { ids } = await newPrompts(2);
    const run = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: policyId, rewardModelId: rewardId, prompts: { promptIds: ids }, k: 2 });
    await db.current.handle.sql`update runs set status = 'running', external_id = 'worker:elsewhere:1:abc', heartbeat_at = now() where id = ${run.id}`;
    const before = fake.requests.length;
    expect(await runRejectionSampling(db.current.handle, store, run.id, fast)).toMatchObject({ status: 'running', externalId: 'worker:elsewhere:1:abc' });
    expect(fake.requests.length).toBe(before);

    // A duplicate job waits while the holder is alive, and takes over once its heartbeat goes stale.
    const waiting = whenNotHeld(() => runRejectionSampling(db.current.handle, store, run.id, fast), { pollMs: 20 });
    await new Promise((r) => setTimeout(r, 100));
    expect(fake.requests.length).toBe(before);
    await db.current.handle.sql`update runs set heartbeat_at = now() - interval '10 minutes' where id = ${run.id}`;
    const taken = await waiting;
    expect(taken).toMatchObject({ status: 'succeeded', attempt: 0 });
    expect(taken!.externalId).toMatch(/^worker:/);
    expect(taken!.externalId).not.toBe('worker:elsewhere:1:abc');

    const asked = fake.requests.length;
    const again = await rejectionSamplingJob.handle({ db: db.current.handle, store }, { runId: run.id });
    expect(again).toMatchObject({ status: 'succeeded', outputVersionId: taken!.outputVersionId });
    expect(fake.requests.length).toBe(asked);
  });

  it('scores with a local ONNX reward model through transformers.js', async () => {
    const folder = makeTinyRewardModel(path.join(root, 'tiny-reward')).folder;
    const local = await addModel(db.current.handle, { kind: 'reward', serving: 'onnx-local', baseUrl: 'http://unused.invalid', apiModel: 'tiny-rm', artifactUri: pathToFileURL(folder).href });
    fake.setReply(({ choice }) => ['a bad answer', 'a good answer', 'the best answer, good', 'fine'][choice]!);
    const { ids, texts } = await newPrompts(2);
    const run = await addRun(db.current.handle, 'rejection-sampling', { policyModelId: policyId, rewardModelId: local.id, prompts: { promptIds: ids }, k: 4 });
    const before = fake.requests.length;
    const done = await runRejectionSampling(db.current.handle, store, run.id, fast);
    expect(done?.error ?? null).toBeNull();
    expect(fake.requests.slice(before).filter((r) => r.route === 'classify')).toHaveLength(0);
    const item = (await items(run.id)).get(ids[0]!)!;
    // Role lines ("user: ...\nassistant: ...") through the tiny tokenizer, which has no chat template.
    const expected = ['a bad answer', 'a good answer', 'the best answer, good', 'fine'].map((a) => tinyRewardScore(`user: ${texts[0]}\nassistant: ${a}`));
    expect(item.samples.map((s) => s.score)).toEqual(expected);
    expect(expected).toEqual([-2, 1, 4, 0]);
    expect(item.best).toMatchObject({ index: 2, score: 4, message: { role: 'assistant', content: 'the best answer, good' } });
  });
});
