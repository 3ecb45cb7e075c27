import { and, eq, inArray } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { TDb, TDbHandle } from '@/db/client';
import { executors, models, runs } from '@/db/schema';
import { checkDeployment } from './deployments';
import { enqueueAdvance, enqueuePoll } from './enqueue';
import type { TExecutor } from '../executors/types';
import { finishHostGeneration, finishHostRejectionSampling, readHeldOutAccuracy, readHostProgress, summarizeHostEval } from './host-results';
import { parseTrainerState, runGpuSeconds, type TTrainingMetrics } from './metrics';
import { runInputWriters } from './run-inputs';
import { materializeRunInputs, runKeys } from './specs';
import { isExecutorRun, resolveOpponents, specForRun, stageRuns, storedPlan, type TStageSpec } from './stage-specs';
import { readJson } from '../artifacts/read-json';
import type { TArtifactStore } from '../artifacts/store';
import { jobs } from '../jobs/queue';
import { inTx } from '../jobs/transaction';
import { failRun } from '../runs/lifecycle';
import { priorGpuSeconds, requireRound, requireRun, type TRunRow } from '../runs/rows';

/** How long a run-poll waits before looking again while a run is queued or running. */
export const defaultPollSeconds = 15;

/**
 * Starts an executor run: writes its dataset files and config to the artifact store, submits the
 * command, records the external id, and schedules the first poll. A run that is no longer
 * pending (a duplicate job) is left alone.
 */
export async function submitRun(
  handle: TDbHandle,
  boss: PgBoss,
  store: TArtifactStore,
  executor: TExecutor,
  runId: number,
  options: { pollSeconds?: number; env?: Record<string, string> } = {},
): Promise<{ status: string; externalId?: string }> {
  const run = await requireRun(handle.db, runId);
  if (run.status !== 'pending') return { status: run.status };
  if (run.cancelRequested) {
    await inTx(handle, async (db, tx) => {
      await db.update(runs).set({ status: 'cancelled', finishedAt: new Date() }).where(and(eq(runs.id, run.id), eq(runs.status, 'pending')));
      await enqueueAdvance(boss, tx, run.roundId);
    });
    return { status: 'cancelled' };
  }
  let spec: TStageSpec;
  try {
    spec = await specForRun(handle.db, store, run);
    if (spec.runner !== 'executor') throw new Error(`run ${run.id} (${run.kind}) does not run on an executor`);
    await materializeRunInputs(store, spec, runInputWriters(handle, store));
  } catch (error) {
    await failRun(handle, boss, run, `could not prepare the run's inputs: ${error instanceof Error ? error.message : String(error)}`);
    return { status: 'failed' };
  }
  const prefix = runKeys(run.id).prefix;
  let externalId: string;
  try {
    ({ externalId } = await executor.submit({ runId: run.id, attempt: run.attempt, command: spec.command, env: options.env ?? {}, gpus: spec.gpus, nodes: spec.nodes, artifactPrefix: prefix }));
  } catch (error) {
    // A refused or failed submit ends the stage with the executor's own words (an admin can
    // retry it); leaving it to the queue's retries would show a round "running" forever.
    await failRun(handle, boss, run, `the executor refused the job: ${error instanceof Error ? error.message : String(error)}`);
    return { status: 'failed' };
  }
  await inTx(handle, async (db, tx) => {
    await db
      .update(runs)
      .set({ status: 'submitted', externalId, submittedAt: new Date(), spec: spec as unknown as Record<string, unknown>, artifactPrefix: prefix, gpus: spec.gpus * (spec.nodes ?? 1), heartbeatAt: new Date() })
      .where(and(eq(runs.id, run.id), eq(runs.attempt, run.attempt), eq(runs.status, 'pending')));
    await enqueuePoll(boss, tx, run.id, options.pollSeconds ?? defaultPollSeconds);
  });
  return { status: 'submitted', externalId };
}

/**
 * While training, TRL writes `trainer_state.json` only into each `checkpoint-N/` (the final one
 * in output/ comes at the end): the newest checkpoint's copy gives live metrics.
 */
export async function latestCheckpointState(store: TArtifactStore, runId: number): Promise<unknown> {
  const output = runKeys(runId).trainerState.replace(/trainer_state\.json$/, '');
  const states = (await store.list(output).catch(() => []))
    .map((entry) => ({ key: entry.key, step: Number(/checkpoint-(\d+)\/trainer_state\.json$/.exec(entry.key)?.[1] ?? NaN) }))
    .filter((entry) => Number.isFinite(entry.step))
    .sort((a, b) => b.step - a.step);
  return states[0] ? readJson(store, states[0].key) : null;
}

export function toDate(value: Date | string | null | undefined): Date | null {
  if (!value) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

export const logTailBytes = 64 * 1024;

/**
 * One look at an executor run: its state, its log tail (copied into the artifact store), its
 * training metrics (trainer_state.json), GPU time. On success the outputs are registered and the
 * round advances; while it runs, the poll schedules itself again.
 */
export async function pollRun(
  handle: TDbHandle,
  boss: PgBoss,
  store: TArtifactStore,
  executor: TExecutor | null,
  runId: number,
  options: { pollSeconds?: number } = {},
): Promise<{ status: string }> {
  const pollSeconds = options.pollSeconds ?? defaultPollSeconds;
  const run = await requireRun(handle.db, runId);

  // Worker-side stages (rejection sampling) end their own row; the poll watches it and moves the round on.
  if (!isExecutorRun(run)) {
    // A failed worker-side run whose job pg-boss will retry is not over: the retry resumes it.
    const retrying = run.status === 'failed' && (await workerJobPending(boss, run));
    const ended = !retrying && (run.status === 'succeeded' || run.status === 'failed' || run.status === 'cancelled');
    await inTx(handle, async (_db, tx) => {
      if (ended) await enqueueAdvance(boss, tx, run.roundId);
      else await enqueuePoll(boss, tx, run.id, pollSeconds);
    });
    return { status: run.status };
  }
  if (run.status === 'succeeded' || run.status === 'failed' || run.status === 'cancelled') return { status: run.status };
  if (!run.externalId || !executor) {
    if (run.status === 'pending') return { status: 'pending' }; // the submit job owns it
    await failRun(handle, boss, run, 'the run has no executor job');
    return { status: 'failed' };
  }

  if (run.cancelRequested) {
    await executor.cancel(run.externalId).catch(() => {});
  }
  const state = await executor.status(run.externalId);
  const logs = await executor.logs(run.externalId, { tailBytes: logTailBytes }).catch(() => null);
  if (logs !== null) {
    await store.write(runKeys(run.id).log(run.attempt), (async function* () {
      yield logs;
    })());
  }
  // Only TRL's trainers write trainer_state.json: host jobs and servers are not searched for one.
  const trains = run.kind === 'reward' || run.kind === 'sft' || run.kind === 'dpo';
  const trainerState = trains ? ((await readJson(store, runKeys(run.id).trainerState)) ?? (await latestCheckpointState(store, run.id))) : null;
  const training: TTrainingMetrics | null = trainerState ? parseTrainerState(trainerState) : null;
  const hostProgress = run.kind === 'rejection-sampling' || run.kind === 'eval' || run.kind === 'generate' ? await readHostProgress(store, run.id) : null;

  const now = new Date();
  const startedAt = run.startedAt ?? (state.state === 'pending' ? null : (toDate(state.startedAt) ?? now));
  let terminal = state.state === 'succeeded' || state.state === 'failed' || state.state === 'cancelled';
  let finishedAt = terminal ? (toDate(state.finishedAt) ?? now) : null;
  // The engine's own accounting where it keeps one (Slurm: allocated GPUs x elapsed, every node); else GPUs x our clock.
  const gpuSeconds = priorGpuSeconds(run) + (state.gpuSeconds ?? runGpuSeconds({ gpus: run.gpus, startedAt, finishedAt }, now));
  const metrics = { ...run.metrics, ...(training ? { training } : {}) };
  const progressDone = training?.globalStep ?? hostProgress?.done ?? run.progressDone;
  const progressTotal = training?.maxSteps ?? hostProgress?.total ?? run.progressTotal;

  let outputModelId: number | null = run.outputModelId;
  if (state.state === 'succeeded' && run.kind === 'reward') {
    outputModelId ??= await registerRewardModel(handle.db, store, run);
    const heldOut = await readHeldOutAccuracy(store, run.id);
    if (heldOut) Object.assign(metrics, { heldOut });
  }
  let status: TRunRow['status'] = state.state === 'pending' ? 'submitted' : state.state;
  let error = state.state === 'failed' ? (state.message ?? 'the executor reported a failure') : state.state === 'cancelled' ? (state.message ?? 'cancelled') : null;
  if (state.state === 'succeeded' && (run.kind === 'rejection-sampling' || run.kind === 'eval' || run.kind === 'generate')) {
    // The host job is done; its output becomes the stage's result here, in the worker.
    try {
      if (run.kind === 'rejection-sampling') {
        await finishHostRejectionSampling(handle, store, { ...run, startedAt, gpuSeconds }, await samplingModels(handle.db, run));
        await inTx(handle, async (_db, tx) => enqueueAdvance(boss, tx, run.roundId));
        return { status: 'succeeded' };
      }
      if (run.kind === 'eval') Object.assign(metrics, { eval: await summarizeHostEval(handle, store, run, await evalContext(handle.db, run)) });
      else Object.assign(metrics, { generation: await finishHostGeneration(handle, store, run, await generationContext(handle.db, run)) });
    } catch (failure) {
      status = 'failed';
      error = `the ${run.kind} job finished but its output could not be used: ${failure instanceof Error ? failure.message : String(failure)}`;
    }
  }
  if (run.kind === 'deploy') {
    if (state.state === 'running' && !run.cancelRequested) {
      // The server's job runs on after the stage: the stage ends when the server answers.
      const verdict = await checkDeployment(handle.db, executor, run, { executorKind: await executorKindOf(handle.db, run), startedAt, now });
      if (verdict.status !== 'running') {
        terminal = true;
        finishedAt = now;
        status = verdict.status;
        error = verdict.status === 'failed' ? verdict.error : null;
        if (verdict.status === 'succeeded') Object.assign(metrics, { deployment: verdict.deployment, superseded: verdict.superseded });
      }
    } else if (state.state === 'succeeded') {
      status = 'failed';
      error = 'the server exited before it answered';
    }
  }
  await inTx(handle, async (db, tx) => {
    const updated = await db
      .update(runs)
      .set({
        status,
        startedAt,
        finishedAt,
        heartbeatAt: now,
        gpuSeconds,
        metrics,
        progressDone,
        progressTotal,
        outputModelId,
        ...(terminal ? { error } : {}),
      })
      .where(and(eq(runs.id, run.id), eq(runs.attempt, run.attempt), inArray(runs.status, ['submitted', 'running'])))
      .returning({ id: runs.id });
    if (!updated.length) return;
    if (terminal) await enqueueAdvance(boss, tx, run.roundId);
    else await enqueuePoll(boss, tx, run.id, pollSeconds);
  });
  return { status };
}

/** The next round's generation: the target project, the models in the order the host job answered, the pairing. */
async function generationContext(db: TDb, run: TRunRow) {
  const round = await requireRound(db, run.roundId!);
  const plan = storedPlan(round);
  const registered = (await stageRuns(db, round.id)).register;
  if (!registered?.outputModelId) throw new Error('the register stage left no model');
  const [policy] = round.policyModelId ? await db.select().from(models).where(eq(models.id, round.policyModelId)) : [];
  const opponents = await resolveOpponents(db, plan, policy ?? null);
  return {
    project: plan.nextRound.project!,
    models: [{ id: registered.outputModelId, name: plan.register.name }, ...opponents.map((o) => ({ id: o.id, name: o.name }))],
    pairing: plan.nextRound.pairing,
    sampling: plan.nextRound.sampling ?? {},
  };
}

async function executorKindOf(db: TDb, run: TRunRow): Promise<string | null> {
  if (!run.executorId) return null;
  const [row] = await db.select({ kind: executors.kind }).from(executors).where(eq(executors.id, run.executorId));
  return row?.kind ?? null;
}

/** The policy and reward model entries a host rejection-sampling run's version records as its lineage. */
export async function samplingModels(db: TDb, run: TRunRow): Promise<{ policyModelId: number; rewardModelId: number }> {
  const round = await requireRound(db, run.roundId!);
  const reward = (await stageRuns(db, round.id)).reward;
  if (!round.policyModelId || !reward?.outputModelId) throw new Error('the round has no registered policy or reward model');
  return { policyModelId: round.policyModelId, rewardModelId: reward.outputModelId };
}

export async function evalContext(db: TDb, run: TRunRow) {
  const round = await requireRound(db, run.roundId!);
  const plan = storedPlan(round);
  const [previous] = round.policyModelId ? await db.select().from(models).where(eq(models.id, round.policyModelId)) : [];
  return { previousName: previous?.name ?? 'previous policy', humanProject: plan.eval.humanProject ?? null, humanComparisons: plan.eval.humanComparisons, gateThreshold: plan.register.gate.minWinRateLow };
}

/**
 * The trained reward model's registry entry: served where the plan says (so rejection sampling
 * and evaluation can score with it), else registered with serving 'none'.
 */
export async function registerRewardModel(db: TDb, store: Pick<TArtifactStore, 'uri'>, run: TRunRow): Promise<number> {
  const round = await requireRound(db, run.roundId!);
  const plan = storedPlan(round);
  const serving = plan.reward.serving;
  const [row] = await db
    .insert(models)
    .values({
      name: `${plan.register.name}-reward`,
      kind: 'reward',
      serving: serving?.kind ?? 'none',
      baseUrl: serving?.baseUrl ?? '',
      apiModel: serving?.apiModel ?? '',
      apiKeyEnv: serving?.apiKeyEnv ?? null,
      artifactUri: store.uri(runKeys(run.id).output),
      baseModel: plan.baseModel,
      roundId: round.id,
      runId: run.id,
      datasetVersionIds: round.datasetVersionId ? [round.datasetVersionId] : [],
    })
    .onConflictDoUpdate({ target: models.name, set: { runId: run.id, artifactUri: store.uri(runKeys(run.id).output) } })
    .returning({ id: models.id });
  return row!.id;
}

/**
 * Whether the queue still holds the job (waiting, retrying or active) that runs this worker-side
 * run, asked through pg-boss's own API with the job id recorded when the run was started.
 */
export async function workerJobPending(boss: PgBoss, run: TRunRow): Promise<boolean> {
  const jobId = (run.metrics as { workerJobId?: unknown }).workerJobId;
  if (typeof jobId !== 'string') return false;
  const job = await boss.getJobById(jobs.rejectionSampling.name, jobId).catch(() => null);
  return job !== null && ['created', 'retry', 'active'].includes(job.state);
}
