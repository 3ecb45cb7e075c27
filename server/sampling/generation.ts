import { and, eq, sql as dsql } from 'drizzle-orm';
import type { TDbHandle } from '@/db/client';
import { runs, type TMessage, type TSampling } from '@/db/schema';
import { canonicalMessagesJson, sha256 } from '../imports/records';
import { createRng } from '../ml/random';
import { chatSamples, effectiveSampling, type TChatModel, type TChatSample } from '../inference/chat-client';
import { createLimiter } from '../inference/http';
import { promptFeed, RunSpecError, type TSourcePrompt } from './prompt-source';
import {
  addCounts,
  chatModelOf,
  loadModel,
  parseRunSpec,
  pendingPrompts,
  requestPolicy,
  withClaimedRun,
  type TModelRow,
  type TRunOptions,
} from './run-common';
import { forEachPrompt, owned, promptWorkers, readRun, RunCancelled, type TRunRow } from '../runs/run-state';
import { ZGenerationSpec, type TGenerationSpec } from './schemas';

/** What generation keeps per prompt in run_items.result. */
export interface TGenerationItem {
  targetPromptId: number;
  responses: { modelId: number; model: string; responseId: number | null; finishReason: string | null; chars: number }[];
  /** New comparisons, each as [first model, second model] in display order. */
  comparisons: { id: number; models: [string, string] }[];
  /** Pairs whose comparison existed already (same prompt, texts and models). */
  existing: number;
}

/** A stream per (seed, prompt): the same pairs and orders whatever order prompts are processed in, and after a resume. */
export function promptRng(seed: number, promptId: number) {
  return createRng(Number((BigInt(seed) * 1_000_003n + BigInt(promptId)) % BigInt(Number.MAX_SAFE_INTEGER)));
}

/**
 * The model pairs of one prompt, as indexes into the model list in display order: every pair
 * ('all-pairs') or one pair drawn at random ('random-pair'); either way each pair's order is a
 * coin flip, so no model always sits on the same side.
 */
export function planPairs(models: number, pairing: TGenerationSpec['pairing'], rng: ReturnType<typeof createRng>): [number, number][] {
  const pairs: [number, number][] = [];
  if (pairing === 'random-pair') {
    const a = rng.int(models);
    let b = rng.int(models - 1);
    if (b >= a) b += 1;
    pairs.push([a, b]);
  } else {
    for (let a = 0; a < models; a++) for (let b = a + 1; b < models; b++) pairs.push([a, b]);
  }
  return pairs.map(([a, b]) => (rng.int(2) === 0 ? [a, b] : [b, a]));
}

export interface TTarget {
  id: number;
  slug: string;
  judgmentsRequired: number;
}

/** The same content hash as imports give a comparison: prompt and responses with their models. */
function comparisonHash(prompt: TMessage[], responses: { messages: TMessage[]; model: string }[]): string {
  return sha256(`{"prompt":${canonicalMessagesJson(prompt)},"responses":[${responses.map((r) => `{"content":${canonicalMessagesJson(r.messages)},"model":${JSON.stringify(r.model)}}`).join(',')}]}`);
}

/**
 * Writes one prompt's answers in one transaction: the prompt in the target project (found or
 * added), the responses (model and sampling recorded), a comparison per pair, and the run item.
 * A comparison whose content exists already is not made again, and its responses are not stored.
 */
export async function writePrompt(
  handle: TDbHandle,
  input: { run: Pick<TRunRow, 'id' | 'roundId'>; target: TTarget; prompt: TSourcePrompt; models: Pick<TModelRow, 'id' | 'name'>[]; sampling: TSampling[]; pairs: [number, number][]; answers: Map<number, TChatSample> },
): Promise<TGenerationItem> {
  const { run, target, prompt } = input;
  const messagesJson = canonicalMessagesJson(prompt.messages);
  return handle.sql.begin(async (tx) => {
    const [row] = await tx<{ id: string }[]>`
      insert into prompts (project_id, messages, metadata, content_hash)
      values (${target.id}, ${messagesJson}::jsonb, ${JSON.stringify(prompt.metadata)}::jsonb, ${sha256(messagesJson)})
      on conflict (project_id, content_hash) do update set content_hash = excluded.content_hash
      returning id`;
    const targetPromptId = Number(row!.id);
    const responseIds = new Map<number, number>();
    const responseId = async (index: number): Promise<number> => {
      const known = responseIds.get(index);
      if (known !== undefined) return known;
      const answer = input.answers.get(index)!;
      const [inserted] = await tx<{ id: string }[]>`
        insert into responses (prompt_id, messages, model, origin, sampling)
        values (${targetPromptId}, ${JSON.stringify([answer.message])}::jsonb, ${input.models[index]!.name}, 'model', ${JSON.stringify(input.sampling[index])}::jsonb)
        returning id`;
      responseIds.set(index, Number(inserted!.id));
      return Number(inserted!.id);
    };
    const comparisons: TGenerationItem['comparisons'] = [];
    let existing = 0;
    for (const pair of input.pairs) {
      const names = pair.map((i) => input.models[i]!.name) as [string, string];
      const hash = comparisonHash(
        prompt.messages,
        pair.map((i) => ({ messages: [input.answers.get(i)!.message], model: input.models[i]!.name })),
      );
      const metadata = { source: 'generation', run: run.id, ...(run.roundId !== null ? { round: run.roundId } : {}), models: names };
      const [comparison] = await tx<{ id: string }[]>`
        insert into comparisons (project_id, prompt_id, content_hash, judgments_required, metadata)
        values (${target.id}, ${targetPromptId}, ${hash}, ${target.judgmentsRequired}, ${JSON.stringify(metadata)}::jsonb)
        on conflict do nothing returning id`;
      if (!comparison) {
        existing += 1;
        continue;
      }
      const ids = [await responseId(pair[0]), await responseId(pair[1])];
      await tx`insert into comparison_responses (comparison_id, position, response_id)
        values (${comparison.id}, 0, ${ids[0]!}), (${comparison.id}, 1, ${ids[1]!})`;
      comparisons.push({ id: Number(comparison.id), models: names });
    }
    const item: TGenerationItem = {
      targetPromptId,
      responses: [...input.answers.entries()].map(([index, answer]) => ({
        modelId: input.models[index]!.id,
        model: input.models[index]!.name,
        responseId: responseIds.get(index) ?? null,
        finishReason: answer.finishReason,
        chars: answer.message.content.length,
      })),
      comparisons,
      existing,
    };
    await tx`insert into run_items (run_id, prompt_id, result) values (${run.id}, ${prompt.id}, ${JSON.stringify(item)}::jsonb)`;
    return item;
  });
}

/**
 * Runs (or resumes) a generation run: each selected prompt without a run item yet is answered
 * by the policies its pairs need (every policy for 'all-pairs', the two drawn for
 * 'random-pair'), and the answers become comparisons of two different models in the target
 * project, the next round's annotation. Comparison metadata records the run (and the round
 * when it has one); responses record their model and sampling parameters. Each prompt is one
 * transaction with its run item, so a resume never asks a finished prompt again and never
 * leaves half a prompt behind. Retries, concurrency, progress, cancel and abort as for
 * rejection sampling.
 */
export async function runGeneration(handle: TDbHandle, runId: number, options: TRunOptions = {}): Promise<TRunRow | null> {
  return withClaimedRun(handle, runId, 'generate', options, async ({ run, controller, counts, started, state }) => {
    const spec = parseRunSpec(ZGenerationSpec, run.spec);
    const models: TModelRow[] = [];
    for (const [i, id] of spec.policyModelIds.entries()) models.push(await loadModel(handle.db, id, `policyModelIds[${i}]`, { kind: 'policy', serving: ['openai'] }));
    const chatModels: TChatModel[] = models.map(chatModelOf);
    const sampling = chatModels.map((m) => effectiveSampling(m.sampling, spec.sampling));
    const [project] = await handle.sql<{ id: string; slug: string; judgments_required: number }[]>`
      select id, slug, judgments_required from projects where slug = ${spec.projectSlug}`;
    if (!project) throw new RunSpecError(`projectSlug: no project with slug ${spec.projectSlug}`);
    const target: TTarget = { id: Number(project.id), slug: project.slug, judgmentsRequired: project.judgments_required };
    const seed = spec.seed ?? run.id;
    state.metrics = { ...state.metrics, pairing: spec.pairing, seed, models: models.map((m) => m.name), project: target.slug };

    const work = await pendingPrompts(handle, run, spec.prompts, (reason: Error) => controller.abort(reason));
    const { pending, total } = work;
    const progress = (state.progress = work.progress);
    const hooks = {
      limiter: createLimiter(spec.concurrency),
      signal: controller.signal,
      policy: requestPolicy(spec, options),
      onAttempt: () => (counts.chat += 1),
      onRetry: () => (counts.retries += 1),
    };
    const record = async (prompt: TSourcePrompt) => {
      const pairs = planPairs(models.length, spec.pairing, promptRng(seed, prompt.id));
      const needed = [...new Set(pairs.flat())].sort((a, b) => a - b);
      const answers = new Map<number, TChatSample>();
      try {
        await Promise.all(
          needed.map(async (index) => {
            const [answer] = await chatSamples(chatModels[index]!, prompt.messages, { ...hooks, n: 1, sampling: spec.sampling });
            answers.set(index, answer!);
          }),
        );
      } catch (error) {
        if (controller.signal.aborted) throw error;
        throw new Error(`prompt ${prompt.id}: ${(error as Error).message}`, { cause: error });
      }
      controller.signal.throwIfAborted();
      await writePrompt(handle, { run, target, prompt, models, sampling, pairs, answers });
      progress.advance();
    };
    await forEachPrompt(promptFeed(handle.sql, pending), promptWorkers(spec.concurrency, pending.length), controller, record);
    await progress.stop();

    const [totals] = await handle.sql<{ comparisons: number; existing: number }[]>`
      select coalesce(sum(jsonb_array_length(result -> 'comparisons')), 0)::int as comparisons,
        coalesce(sum((result ->> 'existing')::int), 0)::int as existing
      from run_items where run_id = ${run.id}`;
    const final = { ...addCounts(state.metrics, counts, Date.now() - started), prompts: total, comparisons: totals!.comparisons, existingComparisons: totals!.existing };
    const [succeeded] = await handle.db
      .update(runs)
      .set({ status: 'succeeded', finishedAt: dsql`now()`, heartbeatAt: dsql`now()`, progressDone: total, metrics: final, error: null })
      .where(and(owned(run), eq(runs.cancelRequested, false)))
      .returning();
    if (succeeded) return succeeded;
    const now = await readRun(handle.db, run.id);
    // A cancel that arrived after the last progress check wins.
    if (now?.cancelRequested && now.status === 'running' && now.externalId === run.externalId) throw new RunCancelled();
    return now;
  });
}
