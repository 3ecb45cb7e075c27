import { eq } from 'drizzle-orm';
import type { TDbHandle } from '@/db/client';
import { models, runs, type TMessage, type TSampling } from '@/db/schema';
import { readJson } from '../artifacts/read-json';
import type { TArtifactStore } from '../artifacts/store';
import { readLines } from '../imports/read-lines';
import type { TChatSample } from '../inference/chat-client';
import { planPairs, promptRng, writePrompt, type TTarget } from '../sampling/generation';
import { lineageOf } from '../sampling/rejection-sampling';
import { finishedPromptIds } from '../sampling/run-common';
import { ZRejectionSamplingSpec } from '../sampling/schemas';
import { finishWithSftVersion, type TRejectionItem } from '../sampling/sft-version';
import type { TRunRow } from '../runs/rows';
import { runKeys } from './specs';
import { createHumanComparisons, gateOf, summarizeEval, type TEvalItem } from './stages';

/** One line of workers/host/sample.py's output: a prompt's samples from one model. */
export interface THostSampleLine {
  prompt_id: number;
  model: string;
  samples: { index: number; system_prompt: number | null; message: TMessage; finish_reason: string | null; score: number | null }[];
  best: number | null;
}

/** The host job's output, a line at a time (it can be large: K samples per prompt). */
export async function* readHostSamples(store: TArtifactStore, runId: number): AsyncGenerator<THostSampleLine> {
  const key = runKeys(runId).samples;
  if ((await store.size(key)) === null) throw new Error(`the host job wrote no ${key}`);
  for await (const { text, number: lineNumber } of readLines(await store.read(key))) {
    if (!text.trim()) continue;
    try {
      yield JSON.parse(text) as THostSampleLine;
    } catch {
      throw new Error(`${key} line ${lineNumber}: not JSON (a job cut off mid-write?)`);
    }
  }
}

/** The host job's progress file, `{"done", "total"}`, for the run's progress bar. */
export async function readHostProgress(store: TArtifactStore, runId: number): Promise<{ done: number; total: number } | null> {
  const value = (await readJson(store, runKeys(runId).progress)) as { done?: unknown; total?: unknown } | null;
  return typeof value?.done === 'number' && typeof value.total === 'number' ? { done: value.done, total: value.total } : null;
}

function rejectionItem(line: THostSampleLine, k: number): TRejectionItem {
  if (line.best === null) throw new Error(`prompt ${line.prompt_id}: the host job scored no sample`);
  const best = line.samples[line.best]!;
  return {
    k,
    best: { index: best.index, score: best.score ?? 0, message: best.message, systemPrompt: best.system_prompt, finishReason: best.finish_reason },
    samples: line.samples.map((s) => ({ index: s.index, score: s.score ?? 0, systemPrompt: s.system_prompt, finishReason: s.finish_reason, chars: s.message.content.length })),
  };
}

const insertBatch = 500;

/**
 * A host rejection-sampling job's output becomes the run's items (every score kept, as the worker
 * mode keeps them) and then its SFT dataset version, with the same lineage as the worker mode.
 * Idempotent: items already imported are kept, and the version is rewritten, never duplicated.
 */
export async function finishHostRejectionSampling(handle: TDbHandle, store: TArtifactStore, run: TRunRow, context: { policyModelId: number; rewardModelId: number }): Promise<void> {
  const config = run.spec.config as { k?: number; system_prompts?: string[] };
  const k = config.k ?? 1;
  let batch: { promptId: number; result: TRejectionItem }[] = [];
  const flush = async () => {
    if (!batch.length) return;
    await handle.sql`
      insert into run_items (run_id, prompt_id, result)
      select ${run.id}, x.prompt_id, x.result from jsonb_to_recordset(${JSON.stringify(batch.map((b) => ({ prompt_id: b.promptId, result: b.result })))}::jsonb) as x(prompt_id bigint, result jsonb)
      on conflict (run_id, prompt_id) do nothing`;
    batch = [];
  };
  let prompts = 0;
  for await (const line of readHostSamples(store, run.id)) {
    batch.push({ promptId: line.prompt_id, result: rejectionItem(line, k) });
    prompts += 1;
    if (batch.length >= insertBatch) await flush();
  }
  await flush();
  const [policy] = await handle.db.select().from(models).where(eq(models.id, context.policyModelId));
  const [reward] = await handle.db.select().from(models).where(eq(models.id, context.rewardModelId));
  if (!policy || !reward) throw new Error('the policy or the reward model of the round is no longer registered');
  const spec = ZRejectionSamplingSpec.parse({ policyModelId: policy.id, rewardModelId: reward.id, prompts: { datasetVersionId: run.inputVersionId, split: 'train' }, k, systemPrompts: config.system_prompts?.length ? config.system_prompts : undefined });
  const running = { ...run, status: 'running' as const };
  await handle.db.update(runs).set({ status: 'running', startedAt: run.startedAt, gpuSeconds: run.gpuSeconds }).where(eq(runs.id, run.id));
  await finishWithSftVersion(handle, store, running, { spec, policy: lineageOf(policy), reward: lineageOf(reward), metrics: { ...run.metrics, prompts, mode: 'host' } });
}

/**
 * A host evaluation job's output: for each held-out prompt, one answer of the new policy and one
 * of the previous, both scored by the round's reward model. The win rate with its interval, the
 * gate, and (when a project is named) comparisons for human evaluation.
 */
export async function summarizeHostEval(
  handle: TDbHandle,
  store: TArtifactStore,
  run: TRunRow,
  context: { previousName: string; humanProject: string | null; humanComparisons: number; gateThreshold: number },
): Promise<Record<string, unknown>> {
  const byPrompt = new Map<number, { prompt?: TMessage[]; candidate?: THostSampleLine; previous?: THostSampleLine }>();
  for await (const line of readHostSamples(store, run.id)) {
    const entry = byPrompt.get(line.prompt_id) ?? {};
    if (line.model === 'candidate') entry.candidate = line;
    else entry.previous = line;
    byPrompt.set(line.prompt_id, entry);
  }
  const items: (TEvalItem & { promptId: number })[] = [];
  const promptRows = byPrompt.size
    ? await handle.sql<{ id: string; messages: TMessage[] }[]>`select id, messages from prompts where id = any(${[...byPrompt.keys()]}::bigint[])`
    : [];
  const promptsById = new Map(promptRows.map((r) => [Number(r.id), r.messages]));
  for (const [promptId, entry] of byPrompt) {
    const c = entry.candidate?.samples[0];
    const p = entry.previous?.samples[0];
    const prompt = promptsById.get(promptId);
    if (!c || !p || !prompt || c.score === null || p.score === null) continue;
    items.push({ promptId, prompt, candidate: c.message, previous: p.message, candidateScore: c.score, previousScore: p.score });
  }
  const summary = summarizeEval(items);
  const result: Record<string, unknown> = { mode: 'host', judge: 'the round’s reward model', previousModel: context.previousName, ...summary, gate: gateOf(summary, context.gateThreshold), promptIds: items.map((i) => i.promptId) };
  if (context.humanProject && context.humanComparisons > 0) {
    result.human = await createHumanComparisons(handle, run, context.humanProject, context.previousName, items.slice(0, context.humanComparisons));
  }
  return result;
}

export interface THeldOutAccuracy {
  pairs: number;
  accuracy: number | null;
  byStrength: Record<string, { pairs: number; accuracy: number }>;
}

/**
 * The reward model's accuracy on the version's held-out pairs (chosen scored above rejected),
 * overall and by preference strength, from the scores the reward job wrote after training.
 * Null when the version held nothing out.
 */
export async function readHeldOutAccuracy(store: TArtifactStore, runId: number): Promise<THeldOutAccuracy | null> {
  const key = runKeys(runId).heldOutScores;
  if ((await store.size(key)) === null) return null;
  const tally = new Map<string, { pairs: number; right: number }>();
  let pairs = 0;
  let right = 0;
  for await (const { text } of readLines(await store.read(key))) {
    if (!text.trim()) continue;
    const row = JSON.parse(text) as { strength: string | null; chosen: number; rejected: number };
    const won = row.chosen > row.rejected ? 1 : 0;
    pairs += 1;
    right += won;
    const level = tally.get(row.strength ?? 'unrated') ?? { pairs: 0, right: 0 };
    level.pairs += 1;
    level.right += won;
    tally.set(row.strength ?? 'unrated', level);
  }
  return { pairs, accuracy: pairs ? right / pairs : null, byStrength: Object.fromEntries([...tally].map(([k, v]) => [k, { pairs: v.pairs, accuracy: v.right / v.pairs }])) };
}

/**
 * A host generation job's output becomes the next round's comparisons: per prompt, the pairs of
 * models drawn as the worker's generation draws them (seeded by run and prompt), each pair a
 * comparison of two different models in the target project, written by the same code
 * (`writePrompt`). Prompts already written (a retried finish) are skipped.
 */
export async function finishHostGeneration(
  handle: TDbHandle,
  store: TArtifactStore,
  run: TRunRow,
  context: { project: string; models: { id: number; name: string }[]; pairing: 'random-pair' | 'all-pairs'; sampling: TSampling },
): Promise<{ prompts: number; comparisons: number; existingComparisons: number }> {
  const [project] = await handle.sql<{ id: string; slug: string; judgments_required: number }[]>`select id, slug, judgments_required from projects where slug = ${context.project}`;
  if (!project) throw new Error(`no project ${context.project} for the next round's comparisons`);
  const target: TTarget = { id: Number(project.id), slug: project.slug, judgmentsRequired: project.judgments_required };
  const done = await finishedPromptIds(handle, run.id);
  const index = new Map(context.models.map((m, i) => [m.name, i]));
  const byPrompt = new Map<number, Map<number, TChatSample>>();
  for await (const line of readHostSamples(store, run.id)) {
    const i = index.get(line.model);
    const sample = line.samples[0];
    if (i === undefined || !sample || done.has(line.prompt_id)) continue;
    const answers = byPrompt.get(line.prompt_id) ?? new Map<number, TChatSample>();
    answers.set(i, { message: sample.message, finishReason: sample.finish_reason });
    byPrompt.set(line.prompt_id, answers);
  }
  let comparisons = 0;
  let existing = 0;
  const ids = [...byPrompt.keys()];
  for (let start = 0; start < ids.length; start += 200) {
    const rows = await handle.sql<{ id: string; project_id: string; messages: TMessage[]; metadata: Record<string, unknown> }[]>`
      select id, project_id, messages, metadata from prompts where id = any(${ids.slice(start, start + 200)}::bigint[])`;
    for (const row of rows) {
      const prompt = { id: Number(row.id), projectId: Number(row.project_id), messages: row.messages, metadata: row.metadata };
      const answers = byPrompt.get(prompt.id)!;
      if (answers.size < context.models.length) continue; // a model's answer is missing: nothing fair to pair
      const pairs = planPairs(context.models.length, context.pairing, promptRng(run.id, prompt.id));
      const item = await writePrompt(handle, { run, target, prompt, models: context.models, sampling: context.models.map(() => context.sampling), pairs, answers });
      comparisons += item.comparisons.length;
      existing += item.existing;
    }
  }
  return { prompts: byPrompt.size, comparisons, existingComparisons: existing };
}
