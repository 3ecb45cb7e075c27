import { eq } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { TDbHandle } from '@/db/client';
import { comparisonResponses, comparisons, models, projects, prompts, responses, type TMessage } from '@/db/schema';
import type { TArtifactStore } from '../artifacts/store';
import { contentHash } from '../content/hash';
import { readCanonicalLines } from '../datasets/version-files';
import { binomialTest } from '../ml/binomial';
import { chatSamples, type TChatModel } from '../inference/chat-client';
import { mapWithConcurrency } from '../inference/http';
import { scoreResponses } from '../inference/reward-client';
import { wilsonInterval } from './metrics';
import type { TServingEndpoint } from './plan';
import { finishRun, markRunRunning } from '../runs/lifecycle';
import { requireRound, requireRun, type TRunRow } from '../runs/rows';
import { runKeys } from './specs';

interface TEvalSettings {
  candidateUri: string;
  candidateServing: TServingEndpoint | null;
  previousModelId: number | null;
  rewardModelId: number | null;
  datasetVersionId: number;
  split: 'test' | 'train' | 'all';
  maxPrompts: number;
  sampling?: { temperature?: number; top_p?: number; max_tokens?: number };
  humanProject: string | null;
  humanComparisons: number;
  gateThreshold?: number;
}

interface TRegisterSettings {
  name: string;
  artifactUri: string;
  serving: TServingEndpoint | null;
  gate?: { minWinRateLow: number; overrideReason?: string; overrideBy?: number | null };
}

/** The distinct prompts of a version's split, in file order, up to `limit`. */
async function heldOutPrompts(store: TArtifactStore, versionId: number, split: 'test' | 'train' | 'all', limit: number): Promise<TMessage[][]> {
  const seen = new Set<string>();
  const out: TMessage[][] = [];
  for await (const line of readCanonicalLines(store, versionId, split)) {
    if (seen.has(line.metadata.prompt_hash)) continue;
    seen.add(line.metadata.prompt_hash);
    out.push(line.prompt);
    if (out.length >= limit) break;
  }
  return out;
}

export interface TEvalItem {
  prompt: TMessage[];
  candidate: TMessage;
  previous: TMessage;
  candidateScore: number;
  previousScore: number;
}

/**
 * Win rate of the new policy over decided prompts with its 95% Wilson interval and the two-sided
 * binomial p-value against a coin; ties count half in `winRateWithTies`.
 */
export function summarizeEval(items: readonly Pick<TEvalItem, 'candidateScore' | 'previousScore'>[]) {
  const wins = items.filter((i) => i.candidateScore > i.previousScore).length;
  const losses = items.filter((i) => i.candidateScore < i.previousScore).length;
  const ties = items.length - wins - losses;
  const decided = wins + losses;
  const interval = wilsonInterval(wins, decided);
  return {
    prompts: items.length,
    wins,
    losses,
    ties,
    winRate: decided ? wins / decided : null,
    winRateWithTies: items.length ? (wins + ties / 2) / items.length : null,
    interval: { level: 0.95, method: 'wilson' as const, low: interval.low, high: interval.high },
    pValue: decided ? binomialTest(wins, decided) : null,
  };
}

/** The gate on registration: the interval's lower bound above the threshold. Nothing measured never passes. */
export function gateOf(summary: { interval: { low: number }; prompts: number } | null, threshold: number): { passed: boolean; threshold: number; winRateLow: number | null; reason: string } {
  if (!summary || summary.prompts === 0) return { passed: false, threshold, winRateLow: null, reason: 'nothing was evaluated' };
  const low = summary.interval.low;
  const passed = low > threshold;
  return { passed, threshold, winRateLow: low, reason: passed ? `win-rate lower bound ${low.toFixed(3)} > ${threshold}` : `win-rate lower bound ${low.toFixed(3)} <= ${threshold}` };
}

/**
 * The evaluation stage: the new policy against the one the round started from, on the
 * preference version's held-out (test split) prompts. Each prompt gets one answer from each
 * policy; the round's reward model scores both; the win rate over decided prompts comes with a
 * 95% Wilson interval and the two-sided binomial p-value against a coin. Ties count half in
 * `winRateWithTies`. When a project is named, the first answers also become new-vs-previous
 * comparisons there, for human evaluation (they feed the project's leaderboard).
 */
export async function runEvalStage(handle: TDbHandle, boss: PgBoss, store: TArtifactStore, runId: number, options: { signal?: AbortSignal } = {}): Promise<{ status: string }> {
  const run = await requireRun(handle.db, runId);
  if (run.kind !== 'eval') throw new Error(`run ${runId} is a ${run.kind} run`);
  if (run.cancelRequested) {
    await finishRun(handle, boss, run, { status: 'cancelled', error: 'cancelled' });
    return { status: 'cancelled' };
  }
  if (!(await markRunRunning(handle.db, run)) && run.status !== 'running') return { status: run.status };
  const settings = run.spec as unknown as TEvalSettings;
  try {
    const metrics = await evaluate(handle, store, run, settings, options.signal);
    await finishRun(handle, boss, run, { status: 'succeeded', metrics: { eval: metrics } });
    return { status: 'succeeded' };
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    await finishRun(handle, boss, run, { status: 'failed', error: `evaluation failed: ${message}` });
    return { status: 'failed' };
  }
}

async function evaluate(handle: TDbHandle, store: TArtifactStore, run: TRunRow, settings: TEvalSettings, signal?: AbortSignal): Promise<Record<string, unknown>> {
  const db = handle.db;
  if (!settings.candidateServing) return { skipped: 'the plan gives no endpoint for the new policy (register.serving): nothing to sample from' };
  const [previous] = settings.previousModelId ? await db.select().from(models).where(eq(models.id, settings.previousModelId)) : [];
  if (!previous || previous.serving !== 'openai') return { skipped: 'the previous policy has no OpenAI-compatible endpoint' };
  const [reward] = settings.rewardModelId ? await db.select().from(models).where(eq(models.id, settings.rewardModelId)) : [];
  const candidate: TChatModel = { name: `candidate of run ${run.id}`, baseUrl: settings.candidateServing.baseUrl, apiModel: settings.candidateServing.apiModel, apiKeyEnv: settings.candidateServing.apiKeyEnv ?? null };
  const promptList = await heldOutPrompts(store, settings.datasetVersionId, settings.split, settings.maxPrompts);
  if (promptList.length === 0) return { skipped: `dataset version ${settings.datasetVersionId} has no ${settings.split} prompts` };

  const answered = await mapWithConcurrency(promptList, 8, async (prompt) => {
    const [[mine], [theirs]] = await Promise.all([
      chatSamples(candidate, prompt, { n: 1, sampling: settings.sampling, signal }),
      chatSamples(previous, prompt, { n: 1, sampling: settings.sampling, signal }),
    ]);
    return { prompt, candidate: mine!.message, previous: theirs!.message };
  });

  const result: Record<string, unknown> = { prompts: answered.length, candidateUri: settings.candidateUri, previousModel: previous.name };
  if (reward && (reward.serving === 'vllm-classify' || reward.serving === 'onnx-local')) {
    const items: TEvalItem[] = [];
    await mapWithConcurrency(answered, 8, async (a) => {
      const [c, p] = await scoreResponses(reward, [
        { prompt: a.prompt, response: [a.candidate] },
        { prompt: a.prompt, response: [a.previous] },
      ], { signal });
      items.push({ ...a, candidateScore: c!, previousScore: p! });
    });
    const summary = summarizeEval(items);
    Object.assign(result, { judge: reward.name, ...summary, gate: gateOf(summary, settings.gateThreshold ?? 0.5) });
    const lines = items.map((i) => JSON.stringify({ prompt: i.prompt, candidate: i.candidate, previous: i.previous, candidate_score: i.candidateScore, previous_score: i.previousScore }) + '\n');
    await store.write(`${runKeys(run.id).prefix}eval.jsonl`, (async function* () {
      yield* lines;
    })());
  } else {
    result.automatic = 'skipped: the round has no served reward model (reward.serving) to judge with';
    result.gate = gateOf(null, settings.gateThreshold ?? 0.5);
  }

  if (settings.humanProject && settings.humanComparisons > 0) {
    result.human = await createHumanComparisons(handle, run, settings.humanProject, previous.name, answered.slice(0, settings.humanComparisons));
  }
  return result;
}

/**
 * New-vs-previous comparisons in the evaluation project. The response order is drawn per
 * comparison (annotators must not learn which side is new); the model names are on the
 * responses, so the project's leaderboard ranks the two policies.
 */
export async function createHumanComparisons(
  handle: TDbHandle,
  run: TRunRow,
  projectSlug: string,
  previousName: string,
  answered: { prompt: TMessage[]; candidate: TMessage; previous: TMessage }[],
): Promise<{ project: string; comparisons: number }> {
  const round = await requireRound(handle.db, run.roundId!);
  const candidateName = (round.plan as { register?: { name?: string } }).register?.name ?? `round ${round.id}`;
  const [project] = await handle.db.select().from(projects).where(eq(projects.slug, projectSlug));
  if (!project) throw new Error(`no project ${projectSlug} for human evaluation`);
  let created = 0;
  await handle.db.transaction(async (tx) => {
    for (const item of answered) {
      const [prompt] = await tx
        .insert(prompts)
        .values({ projectId: project.id, messages: item.prompt, contentHash: contentHash(item.prompt), metadata: { source: 'round-eval', round_id: round.id, run_id: run.id } })
        .onConflictDoUpdate({ target: [prompts.projectId, prompts.contentHash], set: { contentHash: prompts.contentHash } })
        .returning({ id: prompts.id });
      const sides = [
        { messages: [item.candidate], model: candidateName },
        { messages: [item.previous], model: previousName },
      ];
      if (Math.random() < 0.5) sides.reverse();
      const hash = contentHash({ prompt: item.prompt, responses: sides.map((s) => ({ content: s.messages, model: s.model })), roundEvalRunId: run.id });
      const [comparison] = await tx
        .insert(comparisons)
        .values({ projectId: project.id, promptId: prompt!.id, contentHash: hash, judgmentsRequired: project.judgmentsRequired, metadata: { source: 'round-eval', round_id: round.id, run_id: run.id } })
        .onConflictDoNothing()
        .returning({ id: comparisons.id });
      if (!comparison) continue;
      const inserted = await tx
        .insert(responses)
        .values(sides.map((s) => ({ promptId: prompt!.id, messages: s.messages, model: s.model, origin: 'model' as const })))
        .returning({ id: responses.id });
      await tx.insert(comparisonResponses).values(inserted.map((r, position) => ({ comparisonId: comparison.id, position, responseId: r.id })));
      created += 1;
    }
  });
  return { project: projectSlug, comparisons: created };
}

/**
 * The registration stage: the new policy becomes a registry entry with its lineage (round, the
 * run that produced the weights, the dataset versions trained on, base model, artifact URI),
 * served at the plan's endpoint (then live generation can use it) or registered with serving
 * 'none' until an admin deploys it.
 */
export async function runRegisterStage(handle: TDbHandle, boss: PgBoss, runId: number): Promise<{ status: string; modelId?: number }> {
  const run = await requireRun(handle.db, runId);
  if (run.kind !== 'register') throw new Error(`run ${runId} is a ${run.kind} run`);
  if (run.status === 'succeeded' || run.status === 'failed' || run.status === 'cancelled') return { status: run.status };
  if (run.cancelRequested) {
    await finishRun(handle, boss, run, { status: 'cancelled', error: 'cancelled' });
    return { status: 'cancelled' };
  }
  const settings = run.spec as unknown as TRegisterSettings;
  const round = await requireRound(handle.db, run.roundId!);
  const roundRuns = await handle.db.query.runs.findMany({ where: (r, { eq: equals }) => equals(r.roundId, round.id) });
  // The gate: registration needs evaluation's verdict, or an admin's recorded reason to go ahead without it.
  const evaluation = roundRuns.filter((r) => r.kind === 'eval' && r.status === 'succeeded').sort((a, b) => b.id - a.id)[0];
  const measured = (evaluation?.metrics as { eval?: { gate?: ReturnType<typeof gateOf> } } | undefined)?.eval?.gate;
  const gate = measured ?? gateOf(null, settings.gate?.minWinRateLow ?? 0.5);
  const override = settings.gate?.overrideReason;
  if (!gate.passed && !override) {
    await finishRun(handle, boss, run, { status: 'failed', error: `the gate did not pass (${gate.reason}): the new policy is not registered. Retry the stage with an override reason to register it anyway.`, metrics: { gate } });
    return { status: 'failed' };
  }
  const producer = roundRuns.filter((r) => (r.kind === 'merge' || r.kind === 'dpo') && r.status === 'succeeded').sort((a, b) => (b.stage ?? 0) - (a.stage ?? 0))[0];
  const versionIds = [...new Set([round.datasetVersionId, ...roundRuns.map((r) => r.outputVersionId)].filter((id): id is number => id !== null))];
  const [policy] = round.policyModelId ? await handle.db.select().from(models).where(eq(models.id, round.policyModelId)) : [];
  const baseModel = policy?.baseModel ?? (round.plan as { baseModel?: string }).baseModel ?? null;
  const values = {
    name: settings.name,
    kind: 'policy' as const,
    serving: settings.serving ? ('openai' as const) : ('none' as const),
    baseUrl: settings.serving?.baseUrl ?? '',
    apiModel: settings.serving?.apiModel ?? '',
    apiKeyEnv: settings.serving?.apiKeyEnv ?? null,
    sampling: policy?.sampling ?? {},
    // An unserved checkpoint cannot answer: it stays out of live generation until deployed.
    enabled: Boolean(settings.serving),
    artifactUri: settings.artifactUri,
    baseModel,
    roundId: round.id,
    runId: producer?.id ?? run.id,
    datasetVersionIds: versionIds,
  };
  const [existing] = await handle.db.select().from(models).where(eq(models.name, settings.name));
  if (existing && existing.roundId !== round.id) {
    await finishRun(handle, boss, run, { status: 'failed', error: `a model named ${settings.name} already exists` });
    return { status: 'failed' };
  }
  const [row] = existing ? await handle.db.update(models).set(values).where(eq(models.id, existing.id)).returning() : await handle.db.insert(models).values(values).returning();
  await finishRun(handle, boss, run, { status: 'succeeded', outputModelId: row!.id, metrics: { model: { id: row!.id, name: row!.name }, gate: { ...gate, ...(gate.passed ? {} : { override: { reason: override, ...(settings.gate?.overrideBy ? { by: settings.gate.overrideBy } : {}) } }) } } });
  return { status: 'succeeded', modelId: row!.id };
}
