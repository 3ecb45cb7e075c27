import type { TDbHandle } from '@/db/client';
import type { TMessage } from '@/db/schema';
import type { TArtifactStore } from '../artifacts/store';
import { chatSamples, effectiveSampling, type TChatModel, type TChatSample } from '../inference/chat-client';
import { createLimiter, type TRequestHooks, type TRequestPolicy } from '../inference/http';
import { promptFeed, type TSourcePrompt } from './prompt-source';
import { scoreResponses, type TRewardModel } from '../inference/reward-client';
import {
  addCounts,
  chatModelOf,
  loadModel,
  parseRunSpec,
  pendingPrompts,
  requestPolicy,
  rewardModelOf,
  withClaimedRun,
  type TModelRow,
  type TRequestCounts,
  type TRunOptions,
} from './run-common';
import { forEachPrompt, promptWorkers, type TRunRow } from '../runs/run-state';
import { ZRejectionSamplingSpec, type TRejectionSamplingSpec } from './schemas';
import { finishWithSftVersion, type TModelLineage, type TRejectionItem } from './sft-version';

export type { TRejectionItem } from './sft-version';

/**
 * The steering system prompt of a sample goes first; a prompt's own system message stays, after
 * it, in the same (single) system message: several system messages confuse chat templates.
 */
export function withSystemPrompt(messages: TMessage[], system: string): TMessage[] {
  const [first, ...rest] = messages;
  if (first?.role === 'system') return [{ ...first, content: `${system}\n\n${first.content}` }, ...rest];
  return [{ role: 'system', content: system }, ...messages];
}

/** Sample i gets system prompt i mod S (null without system prompts): the sample indexes per system prompt. */
export function systemPromptGroups(k: number, systemPrompts: readonly string[] | undefined): { systemPrompt: number | null; samples: number[] }[] {
  if (!systemPrompts?.length) return [{ systemPrompt: null, samples: Array.from({ length: k }, (_, i) => i) }];
  const groups = systemPrompts.map((_, s) => ({ systemPrompt: s as number | null, samples: [] as number[] }));
  for (let i = 0; i < k; i++) groups[i % systemPrompts.length]!.samples.push(i);
  return groups.filter((g) => g.samples.length > 0);
}

/** The index of the highest score; the earliest sample wins a tie. */
export function bestIndex(scores: readonly number[]): number {
  let best = 0;
  for (let i = 1; i < scores.length; i++) if (scores[i]! > scores[best]!) best = i;
  return best;
}

/** K samples for one prompt (one request per system prompt, `n` samples each), every one scored, the best kept. */
export async function sampleBestOfK(
  policy: TChatModel,
  reward: TRewardModel,
  prompt: TMessage[],
  spec: Pick<TRejectionSamplingSpec, 'k' | 'systemPrompts' | 'sampling' | 'keepSamples'>,
  hooks: TRequestHooks & { policy?: Partial<TRequestPolicy> },
  counts: TRequestCounts,
): Promise<TRejectionItem> {
  const samples = new Array<{ sample: TChatSample; systemPrompt: number | null }>(spec.k);
  const groups = systemPromptGroups(spec.k, spec.systemPrompts);
  const chatHooks = { ...hooks, onAttempt: () => (counts.chat += 1), onRetry: () => (counts.retries += 1) };
  await Promise.all(
    groups.map(async (group) => {
      const messages = group.systemPrompt === null ? prompt : withSystemPrompt(prompt, spec.systemPrompts![group.systemPrompt]!);
      const got = await chatSamples(policy, messages, { ...chatHooks, n: group.samples.length, sampling: spec.sampling });
      group.samples.forEach((index, i) => (samples[index] = { sample: got[i]!, systemPrompt: group.systemPrompt }));
    }),
  );
  const scores = await scoreResponses(
    reward,
    samples.map((s) => ({ prompt, response: [s.sample.message] })),
    { ...hooks, concurrency: spec.k, onAttempt: () => (counts.reward += 1), onRetry: () => (counts.retries += 1) },
  );
  const best = bestIndex(scores);
  const chosen = samples[best]!;
  return {
    k: spec.k,
    best: { index: best, score: scores[best]!, message: chosen.sample.message, systemPrompt: chosen.systemPrompt, finishReason: chosen.sample.finishReason },
    samples: samples.map((s, index) => ({
      index,
      score: scores[index]!,
      systemPrompt: s.systemPrompt,
      finishReason: s.sample.finishReason,
      chars: s.sample.message.content.length,
      ...(spec.keepSamples ? { content: s.sample.message } : {}),
    })),
  };
}

export function lineageOf(row: TModelRow): TModelLineage {
  return { id: row.id, name: row.name, apiModel: row.apiModel, serving: row.serving, artifactUri: row.artifactUri };
}

/**
 * Runs (or resumes) a rejection-sampling run: for each selected prompt without a run item yet,
 * K samples from the policy, scored by the reward model, the best kept, every score recorded in
 * run_items; then the SFT dataset version, recorded as the run's outputVersionId.
 *
 * At most `concurrency` requests are in flight (chat and scoring share the limit). Progress and
 * the heartbeat go to the run row a few times a second at most; a cancel request stops the run
 * within about that time. A failed request is retried (429, 5xx, timeouts, network errors) up to
 * maxRetries times, then fails the run with the reason. Aborting `signal` leaves the run pending.
 * A second call resumes: finished prompts are never asked again. A run that succeeded, was
 * cancelled or is held by a live worker is returned untouched.
 */
export async function runRejectionSampling(handle: TDbHandle, store: TArtifactStore, runId: number, options: TRunOptions = {}): Promise<TRunRow | null> {
  return withClaimedRun(handle, runId, 'rejection-sampling', options, async ({ run, controller, counts, started, state }) => {
    const spec = parseRunSpec(ZRejectionSamplingSpec, run.spec);
    const policyRow = await loadModel(handle.db, spec.policyModelId, 'policyModelId', { kind: 'policy', serving: ['openai'] });
    const rewardRow = await loadModel(handle.db, spec.rewardModelId, 'rewardModelId', { kind: 'reward', serving: ['vllm-classify', 'onnx-local'] });
    const policy = chatModelOf(policyRow);
    const reward = rewardModelOf(rewardRow);
    state.metrics = { ...state.metrics, k: spec.k, sampling: effectiveSampling(policy.sampling, spec.sampling), policyModel: policyRow.name, rewardModel: rewardRow.name };

    const work = await pendingPrompts(handle, run, spec.prompts, (reason: Error) => controller.abort(reason));
    const { pending } = work;
    const progress = (state.progress = work.progress);
    const hooks = { limiter: createLimiter(spec.concurrency), signal: controller.signal, policy: requestPolicy(spec, options) };
    const record = async (prompt: TSourcePrompt) => {
      let item: TRejectionItem;
      try {
        item = await sampleBestOfK(policy, reward, prompt.messages, spec, hooks, counts);
      } catch (error) {
        if (controller.signal.aborted) throw error;
        throw new Error(`prompt ${prompt.id}: ${(error as Error).message}`, { cause: error });
      }
      await handle.sql`insert into run_items (run_id, prompt_id, result)
        values (${run.id}, ${prompt.id}, ${JSON.stringify(item)}::jsonb) on conflict (run_id, prompt_id) do nothing`;
      progress.advance();
    };
    await forEachPrompt(promptFeed(handle.sql, pending), promptWorkers(spec.concurrency, pending.length), controller, record);
    await progress.stop();
    const final = addCounts(state.metrics, counts, Date.now() - started);
    return await finishWithSftVersion(handle, store, run, { spec, policy: lineageOf(policyRow), reward: lineageOf(rewardRow), metrics: final });
  });
}
