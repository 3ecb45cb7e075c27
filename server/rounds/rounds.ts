import { and, asc, desc, eq, inArray } from 'drizzle-orm';
import { drizzle } from 'drizzle-orm/postgres-js';
import type PgBoss from 'pg-boss';
import type postgres from 'postgres';
import type { TDb, TDbHandle, TRootDb } from '@/db/client';
import * as schema from '@/db/schema';
import { datasetVersions, executors, models, rounds, runs } from '@/db/schema';
import type { TArtifactStore } from '../artifacts/store';
import { AppError } from '../errors';
import { inTransaction, jobs } from '../jobs/queue';
import { parseInput } from '../validation';
import type { TRoundExecutor } from './executor';
import { parseTrainerState, roundGpuHours, runGpuSeconds, type TTrainingMetrics } from './metrics';
import { padTokenFor, planStages, runsOnExecutor, stageGpus, ZRoundPlan, type TRoundPlan, type TRoundPlanInput, type TStageKind } from './plan';
import { finishHostRejectionSampling, readHeldOutAccuracy, readHostProgress, summarizeHostEval } from './host-results';
import { runInputWriters } from './run-inputs';
import { materializeRunInputs, mergeRunSpec, runKeys, sampleRunSpec, trlRunSpec, withConfig, type TRunSpec } from './specs';

export type TRoundRow = typeof rounds.$inferSelect;
export type TRunRow = typeof runs.$inferSelect;

/** How long a run-poll waits before looking again while a run is queued or running. */
export const defaultPollSeconds = 15;

/** The queue that runs rejection sampling (server/sampling's job), addressed by name. */
const rejectionSamplingQueue = 'rejection-sampling';

type TTx = postgres.TransactionSql;

/**
 * Drizzle over a postgres.js transaction, so that rows and pg-boss jobs commit together. The
 * transaction object has no `options`; drizzle reads the type parsers from there, which are the
 * pool's (already set up by the pool's own drizzle instance).
 */
function txDb(sql: postgres.Sql, tx: TTx): TRootDb {
  const client = Object.assign(tx, { options: sql.options }) as unknown as postgres.Sql;
  return drizzle(client, { schema, casing: 'snake_case' }) as unknown as TRootDb;
}

async function inTx<T>(handle: TDbHandle, fn: (db: TRootDb, tx: TTx) => Promise<T>): Promise<T> {
  return (await handle.sql.begin((tx) => fn(txDb(handle.sql, tx), tx))) as T;
}

export function storedPlan(round: TRoundRow): TRoundPlan {
  return ZRoundPlan.parse(round.plan);
}

// ---------------------------------------------------------------------------------------------
// Stage specs: what each stage runs, from the plan and the outputs of the stages before it.
// ---------------------------------------------------------------------------------------------

export interface TStageContext {
  round: Pick<TRoundRow, 'id' | 'datasetVersionId' | 'policyModelId'>;
  plan: TRoundPlan;
  /** The policy the round starts from. */
  policy: { id: number; artifactUri: string | null; baseModel: string | null } | null;
  /** The latest run of each earlier stage (absent in a preview). */
  previous: Partial<Record<TStageKind, TRunRow>>;
}

/** A stage's spec: a training run spec (executor stages) or the settings of a worker-side stage. */
export type TStageSpec = ({ runner: 'executor' } & TRunSpec) | { runner: 'worker'; kind: TStageKind; settings: Record<string, unknown>; gpus: 0 };

function outputUriOf(store: Pick<TArtifactStore, 'uri'>, run: TRunRow | undefined, stageIndex: number): string {
  return store.uri(runKeys(run ? run.id : `preview-${stageIndex}`).output);
}

/** Builds one stage's spec; `runRef` is the run id, or `preview-<index>` before launch. */
export function buildStageSpec(store: Pick<TArtifactStore, 'uri'>, context: TStageContext, kind: TStageKind, runRef: number | string): TStageSpec {
  const { plan, round, previous } = context;
  const stages = planStages(plan);
  const indexOf = (k: TStageKind) => stages.indexOf(k);
  const policyWeights = context.policy?.artifactUri ?? context.policy?.baseModel ?? plan.baseModel;
  const versionId = round.datasetVersionId ?? 0;
  const trainer = { baseModel: plan.baseModel, distributed: plan.distributed, padToken: padTokenFor(plan) };
  const candidate = plan.merge.enabled ? previous.merge : previous.dpo;
  const candidateUri = outputUriOf(store, candidate, indexOf(plan.merge.enabled ? 'merge' : 'dpo'));
  const rewardUri = outputUriOf(store, previous.reward, indexOf('reward'));
  switch (kind) {
    case 'reward':
      return { runner: 'executor', ...trlRunSpec(store, { kind: 'reward', runRef, modelNameOrPath: plan.baseModel, versionId, versionKind: 'preference', gpus: plan.reward.gpus, overrides: plan.reward.config, ...trainer }) };
    case 'sft': {
      const sampled = previous['rejection-sampling'];
      // Before rejection sampling has run (a preview), the chosen responses of the preference version stand in.
      const sftVersion = sampled?.outputVersionId ?? null;
      return {
        runner: 'executor',
        ...trlRunSpec(store, {
          kind: 'sft',
          runRef,
          modelNameOrPath: policyWeights,
          versionId: sftVersion ?? versionId,
          versionKind: sftVersion ? 'sft' : 'preference',
          gpus: plan.sft.gpus,
          overrides: plan.sft.config,
          ...trainer,
        }),
      };
    }
    case 'dpo':
      return {
        runner: 'executor',
        ...trlRunSpec(store, { kind: 'dpo', runRef, modelNameOrPath: outputUriOf(store, previous.sft, indexOf('sft')), versionId, versionKind: 'preference', gpus: plan.dpo.gpus, overrides: plan.dpo.config, ...trainer }),
      };
    case 'merge': {
      const resolve = (source: string) => {
        if (source === 'dpo') return { uri: outputUriOf(store, previous.dpo, indexOf('dpo')), description: 'this round’s DPO output' };
        if (source === 'sft') return { uri: outputUriOf(store, previous.sft, indexOf('sft')), description: 'this round’s SFT output' };
        if (source === 'policy') return { uri: policyWeights, description: 'the starting policy' };
        return { uri: source, description: 'checkpoint' };
      };
      return {
        runner: 'executor',
        ...mergeRunSpec(store, { runRef, models: plan.merge.models.map((m) => ({ ...resolve(m.source), weight: m.weight })), gpus: plan.merge.gpus, overrides: plan.merge.config }),
      };
    }
    case 'rejection-sampling':
      if (runsOnExecutor(plan, kind)) {
        const { k, systemPrompts, sampling, gpus } = plan.rejectionSampling;
        return {
          runner: 'executor',
          // Train-split prompts only: the test split is evaluation's, and must never reach SFT.
          ...sampleRunSpec(store, { kind, runRef, models: [{ name: 'policy', uri: policyWeights }], rewardModelUri: rewardUri, versionId, split: 'train', k, systemPrompts, sampling, gpus }),
        };
      }
      return {
        runner: 'worker',
        kind,
        gpus: 0,
        settings: {
          policyModelId: round.policyModelId,
          rewardModelId: previous.reward?.outputModelId ?? null,
          prompts: { datasetVersionId: versionId, split: 'train' },
          k: plan.rejectionSampling.k,
          ...(plan.rejectionSampling.systemPrompts ? { systemPrompts: plan.rejectionSampling.systemPrompts } : {}),
          ...(plan.rejectionSampling.sampling ? { sampling: plan.rejectionSampling.sampling } : {}),
          concurrency: plan.rejectionSampling.concurrency,
        },
      };
    case 'eval': {
      if (runsOnExecutor(plan, kind)) {
        const models = [
          { name: 'candidate', uri: candidateUri },
          { name: 'previous', uri: policyWeights },
        ];
        return {
          runner: 'executor',
          ...sampleRunSpec(store, { kind, runRef, models, rewardModelUri: rewardUri, versionId, split: 'test', maxPrompts: plan.eval.maxPrompts, k: 1, sampling: plan.eval.sampling, gpus: plan.eval.gpus }),
        };
      }
      return {
        runner: 'worker',
        kind,
        gpus: 0,
        settings: {
          candidateUri,
          candidateServing: plan.register.serving ?? null,
          previousModelId: round.policyModelId,
          rewardModelId: previous.reward?.outputModelId ?? null,
          datasetVersionId: versionId,
          split: 'test',
          maxPrompts: plan.eval.maxPrompts,
          ...(plan.eval.sampling ? { sampling: plan.eval.sampling } : {}),
          humanProject: plan.eval.humanProject ?? null,
          humanComparisons: plan.eval.humanComparisons,
          gateThreshold: plan.register.gate.minWinRateLow,
        },
      };
    }
    case 'register':
      return {
        runner: 'worker',
        kind,
        gpus: 0,
        settings: { name: plan.register.name, artifactUri: candidateUri, serving: plan.register.serving ?? null, gate: plan.register.gate },
      };
  }
}

// ---------------------------------------------------------------------------------------------
// Preview and launch
// ---------------------------------------------------------------------------------------------

export interface TLaunchRound {
  name: string;
  policyModelId: number;
  datasetVersionId: number;
  executorId: number;
  projectId?: number | null;
  plan: TRoundPlanInput;
  createdBy?: number | null;
}

async function loadLaunchContext(db: TDb, input: TLaunchRound) {
  const plan = parseInput(ZRoundPlan, input.plan);
  const [policy] = await db.select().from(models).where(eq(models.id, input.policyModelId));
  if (!policy || policy.kind !== 'policy') throw new AppError('BAD_REQUEST', `no policy model with id ${input.policyModelId}`, { field: 'policyModelId' });
  const [version] = await db.select().from(datasetVersions).where(eq(datasetVersions.id, input.datasetVersionId));
  if (!version) throw new AppError('BAD_REQUEST', `no dataset version ${input.datasetVersionId}`, { field: 'datasetVersionId' });
  if (version.kind !== 'preference') throw new AppError('BAD_REQUEST', `dataset version ${version.id} is not a preference version`, { field: 'datasetVersionId' });
  if (version.status !== 'succeeded') throw new AppError('BAD_REQUEST', `dataset version ${version.id} is ${version.status}, not built`, { field: 'datasetVersionId' });
  const [executor] = await db.select().from(executors).where(eq(executors.id, input.executorId));
  if (!executor) throw new AppError('BAD_REQUEST', `no executor with id ${input.executorId}`, { field: 'executorId' });
  if (!executor.enabled) throw new AppError('BAD_REQUEST', `executor ${executor.name} is disabled`, { field: 'executorId' });
  const [named] = await db.select({ id: models.id }).from(models).where(eq(models.name, plan.register.name));
  if (named) throw new AppError('CONFLICT', `a model named ${plan.register.name} already exists`, { field: 'plan.register.name' });
  checkPlanAgainst(plan, policy, executor);
  return { plan, policy, version, executor };
}

/**
 * What Preview and Launch both refuse: a plan the executor cannot run (more GPUs than a local
 * executor lists) or whose worker-side stages have nothing to call. Preview runs it too, so a
 * plan that previews well launches.
 */
function checkPlanAgainst(plan: TRoundPlan, policy: typeof models.$inferSelect, executor: typeof executors.$inferSelect): void {
  const endpointStages = [plan.rejectionSampling.mode === 'endpoint' ? 'rejection sampling' : null, plan.eval.mode === 'endpoint' ? 'evaluation' : null].filter(Boolean);
  if (endpointStages.length && !plan.reward.serving) {
    throw new AppError('BAD_REQUEST', `plan.reward.serving: ${endpointStages.join(' and ')} run in endpoint mode and score through the reward model's /classify endpoint; name it, or use mode "host"`, { field: 'plan.reward.serving' });
  }
  if (endpointStages.length && policy.serving !== 'openai') {
    throw new AppError('BAD_REQUEST', `policyModelId: ${endpointStages.join(' and ')} run in endpoint mode, but the policy ${policy.name} is not served (serving ${policy.serving}); use mode "host"`, { field: 'policyModelId' });
  }
  if (plan.eval.mode === 'endpoint' && !plan.register.serving) {
    throw new AppError('BAD_REQUEST', 'plan.register.serving: endpoint-mode evaluation samples from the new policy where it is served; name the endpoint, or use mode "host"', { field: 'plan.register.serving' });
  }
  if (executor.kind === 'local') {
    const listed = ((executor.config as { gpus?: string[] }).gpus ?? []).length;
    for (const kind of planStages(plan)) {
      const wanted = stageGpus(plan, kind) * (runsOnExecutor(plan, kind) && kind !== 'rejection-sampling' && kind !== 'eval' ? plan.distributed.nodes : 1);
      if (runsOnExecutor(plan, kind) && wanted > listed) {
        throw new AppError('BAD_REQUEST', `plan.${kind === 'rejection-sampling' ? 'rejectionSampling' : kind}.gpus: the ${kind} stage needs ${wanted} GPU(s); the local executor ${executor.name} lists ${listed}`, { field: `plan.${kind === 'rejection-sampling' ? 'rejectionSampling' : kind}.gpus` });
      }
    }
    if (plan.distributed.nodes > 1) throw new AppError('BAD_REQUEST', `plan.distributed.nodes: a local executor runs on one node; ${plan.distributed.nodes} were asked for`, { field: 'plan.distributed.nodes' });
  }
}

export interface TRoundPreview {
  plan: TRoundPlan;
  stages: { index: number; kind: TStageKind; spec: TStageSpec }[];
}

/** The exact configs and commands a round would run, before launch (paths use `runs/preview-<stage>/`). */
export async function previewRound(db: TDb, store: Pick<TArtifactStore, 'uri'>, input: TLaunchRound): Promise<TRoundPreview> {
  const { plan, policy } = await loadLaunchContext(db, input);
  const context: TStageContext = { round: { id: 0, datasetVersionId: input.datasetVersionId, policyModelId: input.policyModelId }, plan, policy, previous: {} };
  return { plan, stages: planStages(plan).map((kind, index) => ({ index, kind, spec: buildStageSpec(store, context, kind, `preview-${index}`) })) };
}

/** Enqueues the job that starts a run, inside the caller's transaction. */
async function enqueueStart(boss: PgBoss, tx: TTx, run: { id: number; kind: TStageKind; attempt: number; spec: Record<string, unknown> }): Promise<void> {
  const db = inTransaction(tx);
  if (isExecutorRun(run)) {
    await boss.send(jobs.runSubmit.name, { runId: run.id }, { db, singletonKey: `run-submit-${run.id}-${run.attempt}` });
  } else if (run.kind === 'rejection-sampling') {
    await boss.send(rejectionSamplingQueue, { runId: run.id }, { db, singletonKey: `rejection-sampling-${run.id}-${run.attempt}` });
    await boss.send(jobs.runPoll.name, { runId: run.id }, { db, startAfter: 1 });
  } else {
    await boss.send(jobs.roundStage.name, { runId: run.id }, { db, singletonKey: `round-stage-${run.id}-${run.attempt}` });
  }
}

/** Whether a run goes to an executor (its spec is a run spec) or runs in the worker (its spec is the stage's settings). */
export function isExecutorRun(run: { spec: Record<string, unknown> }): boolean {
  return run.spec.runner === 'executor';
}

/**
 * Writes a stage's run with its spec as it stands now (the earlier stages are done, so their
 * outputs are known). A worker-side run's spec is exactly the settings its job reads.
 */
async function createStageRun(db: TDb, store: Pick<TArtifactStore, 'uri'>, round: TRoundRow, index: number, kind: TStageKind): Promise<TRunRow> {
  const plan = storedPlan(round);
  const [run] = await db
    .insert(runs)
    .values({ roundId: round.id, stage: index, kind, status: 'pending', executorId: runsOnExecutor(plan, kind) ? round.executorId : null, spec: {}, gpus: stageGpus(plan, kind), inputVersionId: round.datasetVersionId })
    .returning();
  const spec = buildStageSpec(store, await stageContext(db, round), kind, run!.id);
  const stored = spec.runner === 'executor' ? (spec as unknown as Record<string, unknown>) : spec.settings;
  const [withSpec] = await db.update(runs).set({ spec: stored }).where(eq(runs.id, run!.id)).returning();
  return withSpec!;
}

/** Writes the round and its first stage's run, and enqueues that run's start, in one transaction. */
export async function launchRound(handle: TDbHandle, boss: PgBoss, store: Pick<TArtifactStore, 'uri'>, input: TLaunchRound): Promise<TRoundRow> {
  const name = input.name.trim();
  if (!name) throw new AppError('BAD_REQUEST', 'a round needs a name', { field: 'name' });
  const { plan } = await loadLaunchContext(handle.db, input);
  const stages = planStages(plan);
  const roundId = await inTx(handle, async (db, tx) => {
    const [round] = await db
      .insert(rounds)
      .values({
        name,
        status: 'running',
        plan: { ...plan, stages } as unknown as Record<string, unknown>,
        policyModelId: input.policyModelId,
        datasetVersionId: input.datasetVersionId,
        executorId: input.executorId,
        projectId: input.projectId ?? null,
        currentStage: 0,
        createdBy: input.createdBy ?? null,
        startedAt: new Date(),
      })
      .returning();
    const run = await createStageRun(db, store, round!, 0, stages[0]!);
    await enqueueStart(boss, tx, { ...run, kind: stages[0]! });
    return round!.id;
  });
  return requireRound(handle.db, roundId);
}

export async function requireRound(db: TDb, roundId: number): Promise<TRoundRow> {
  const [row] = await db.select().from(rounds).where(eq(rounds.id, roundId));
  if (!row) throw new AppError('NOT_FOUND', `no round ${roundId}`);
  return row;
}

export async function requireRun(db: TDb, runId: number): Promise<TRunRow> {
  const [row] = await db.select().from(runs).where(eq(runs.id, runId));
  if (!row) throw new AppError('NOT_FOUND', `no run ${runId}`);
  return row;
}

/** The latest run of each stage of a round, by stage kind. */
async function stageRuns(db: TDb, roundId: number): Promise<Partial<Record<TStageKind, TRunRow>>> {
  const rows = await db.select().from(runs).where(eq(runs.roundId, roundId)).orderBy(asc(runs.stage), asc(runs.id));
  const out: Partial<Record<TStageKind, TRunRow>> = {};
  for (const row of rows) out[row.kind as TStageKind] = row;
  return out;
}

async function stageContext(db: TDb, round: TRoundRow): Promise<TStageContext> {
  const plan = storedPlan(round);
  const [policy] = round.policyModelId ? await db.select().from(models).where(eq(models.id, round.policyModelId)) : [];
  return { round, plan, policy: policy ?? null, previous: await stageRuns(db, round.id) };
}

/** The spec a run will execute, built now from the plan and the earlier stages' outputs. */
export async function specForRun(db: TDb, store: Pick<TArtifactStore, 'uri'>, run: TRunRow): Promise<TStageSpec> {
  if (!run.roundId) throw new Error(`run ${run.id} belongs to no round`);
  const round = await requireRound(db, run.roundId);
  const context = await stageContext(db, round);
  if (!isExecutorRun(run)) return { runner: 'worker', kind: run.kind as TStageKind, settings: run.spec, gpus: 0 };
  const built = buildStageSpec(store, context, run.kind as TStageKind, run.id);
  // A spec edited after launch (its config) wins over the plan's, with the run's own files kept.
  const edited = run.spec as Partial<TRunSpec> & { runner?: string };
  if (built.runner === 'executor' && edited.runner === 'executor' && edited.config) return { ...withConfig(built, edited.config), runner: 'executor' };
  return built;
}

// ---------------------------------------------------------------------------------------------
// The state machine: advance, submit, poll, cancel, retry, resume
// ---------------------------------------------------------------------------------------------

/**
 * Moves a round on from its current stage: the next stage's run is created and started when the
 * current one succeeded; a failed or cancelled run ends the round. Runs under a row lock on the
 * round, and re-reads everything, so duplicate or late calls do nothing.
 */
export async function advanceRound(handle: TDbHandle, boss: PgBoss, store: Pick<TArtifactStore, 'uri'>, roundId: number): Promise<{ status: string; stage: number }> {
  return inTx(handle, async (db, tx) => {
    const [round] = await db.select().from(rounds).where(eq(rounds.id, roundId)).for('update');
    if (!round) return { status: 'missing', stage: -1 };
    if (round.status !== 'running') return { status: round.status, stage: round.currentStage };
    const plan = storedPlan(round);
    const stages = planStages(plan);
    const [current] = await db
      .select()
      .from(runs)
      .where(and(eq(runs.roundId, round.id), eq(runs.stage, round.currentStage)))
      .orderBy(desc(runs.id))
      .limit(1);
    if (!current) {
      // The stage's run was never written (should not happen): start it.
      const kind = stages[round.currentStage]!;
      const run = await createStageRun(db, store, round, round.currentStage, kind);
      await enqueueStart(boss, tx, { ...run, kind });
      return { status: 'running', stage: round.currentStage };
    }
    if (current.status === 'failed' || current.status === 'cancelled') {
      const status = current.status;
      await db
        .update(rounds)
        .set({ status, error: current.error ?? `stage ${round.currentStage} (${current.kind}) ${status}`, finishedAt: new Date() })
        .where(eq(rounds.id, round.id));
      return { status, stage: round.currentStage };
    }
    if (current.status !== 'succeeded') return { status: 'running', stage: round.currentStage };
    const next = round.currentStage + 1;
    if (next >= stages.length) {
      await db.update(rounds).set({ status: 'succeeded', finishedAt: new Date(), error: null }).where(eq(rounds.id, round.id));
      return { status: 'succeeded', stage: round.currentStage };
    }
    const kind = stages[next]!;
    await db.update(rounds).set({ currentStage: next }).where(eq(rounds.id, round.id));
    const run = await createStageRun(db, store, { ...round, currentStage: next }, next, kind);
    await enqueueStart(boss, tx, { ...run, kind });
    return { status: 'running', stage: next };
  });
}

async function enqueueAdvance(boss: PgBoss, tx: TTx, roundId: number | null): Promise<void> {
  if (roundId) await boss.send(jobs.roundAdvance.name, { roundId }, { db: inTransaction(tx) });
}

async function enqueuePoll(boss: PgBoss, tx: TTx | null, runId: number, seconds: number): Promise<void> {
  const options: PgBoss.SendOptions = { startAfter: new Date(Date.now() + seconds * 1000) };
  if (tx) options.db = inTransaction(tx);
  await boss.send(jobs.runPoll.name, { runId }, options);
}

/** Marks a run failed and lets the round see it. */
async function failRun(handle: TDbHandle, boss: PgBoss, run: TRunRow, error: string): Promise<void> {
  await inTx(handle, async (db, tx) => {
    const now = new Date();
    const updated = await db
      .update(runs)
      .set({ status: 'failed', error: error.slice(0, 4000), finishedAt: now, gpuSeconds: priorGpuSeconds(run) + runGpuSeconds({ ...run, finishedAt: now }, now) })
      .where(and(eq(runs.id, run.id), eq(runs.attempt, run.attempt), inArray(runs.status, ['pending', 'submitted', 'running'])))
      .returning({ id: runs.id });
    if (updated.length) await enqueueAdvance(boss, tx, run.roundId);
  });
}

function priorGpuSeconds(run: TRunRow): number {
  const prior = (run.metrics as { priorGpuSeconds?: unknown }).priorGpuSeconds;
  return typeof prior === 'number' ? prior : 0;
}

/**
 * Starts an executor run: writes its dataset files and config to the artifact store, submits the
 * command, records the external id, and schedules the first poll. A run that is no longer
 * pending (a duplicate job) is left alone.
 */
export async function submitRun(
  handle: TDbHandle,
  boss: PgBoss,
  store: TArtifactStore,
  executor: TRoundExecutor,
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
      .set({ status: 'submitted', externalId, submittedAt: new Date(), spec: spec as unknown as Record<string, unknown>, artifactPrefix: prefix, gpus: spec.gpus, heartbeatAt: new Date() })
      .where(and(eq(runs.id, run.id), eq(runs.attempt, run.attempt), eq(runs.status, 'pending')));
    await enqueuePoll(boss, tx, run.id, options.pollSeconds ?? defaultPollSeconds);
  });
  return { status: 'submitted', externalId };
}

async function readJson(store: TArtifactStore, key: string): Promise<unknown> {
  if ((await store.size(key)) === null) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of await store.read(key)) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    return null; // being written
  }
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

function toDate(value: Date | string | null | undefined): Date | null {
  if (!value) return null;
  const date = value instanceof Date ? value : new Date(value);
  return Number.isNaN(date.getTime()) ? null : date;
}

const logTailBytes = 64 * 1024;

/**
 * One look at an executor run: its state, its log tail (copied into the artifact store), its
 * training metrics (trainer_state.json), GPU time. On success the outputs are registered and the
 * round advances; while it runs, the poll schedules itself again.
 */
export async function pollRun(
  handle: TDbHandle,
  boss: PgBoss,
  store: TArtifactStore,
  executor: TRoundExecutor | null,
  runId: number,
  options: { pollSeconds?: number } = {},
): Promise<{ status: string }> {
  const pollSeconds = options.pollSeconds ?? defaultPollSeconds;
  const run = await requireRun(handle.db, runId);

  // Worker-side stages (rejection sampling) end their own row; the poll watches it and moves the round on.
  if (!isExecutorRun(run)) {
    // A failed worker-side run whose job pg-boss will retry is not over: the retry resumes it.
    const retrying = run.status === 'failed' && (await workerJobPending(handle, run));
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
  const trainerState = (await readJson(store, runKeys(run.id).trainerState)) ?? (await latestCheckpointState(store, run.id));
  const training: TTrainingMetrics | null = trainerState ? parseTrainerState(trainerState) : null;
  const hostProgress = run.kind === 'rejection-sampling' || run.kind === 'eval' ? await readHostProgress(store, run.id) : null;

  const now = new Date();
  const startedAt = run.startedAt ?? (state.state === 'pending' ? null : (toDate(state.startedAt) ?? now));
  const terminal = state.state === 'succeeded' || state.state === 'failed' || state.state === 'cancelled';
  const finishedAt = terminal ? (toDate(state.finishedAt) ?? now) : null;
  const gpuSeconds = priorGpuSeconds(run) + runGpuSeconds({ gpus: run.gpus, startedAt, finishedAt }, now);
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
  if (state.state === 'succeeded' && (run.kind === 'rejection-sampling' || run.kind === 'eval')) {
    // The host job is done; its output becomes the stage's result here, in the worker.
    try {
      if (run.kind === 'rejection-sampling') {
        await finishHostRejectionSampling(handle, store, { ...run, startedAt, gpuSeconds }, await samplingModels(handle.db, run));
        await inTx(handle, async (_db, tx) => enqueueAdvance(boss, tx, run.roundId));
        return { status: 'succeeded' };
      }
      Object.assign(metrics, { eval: await summarizeHostEval(handle, store, run, await evalContext(handle.db, run)) });
    } catch (failure) {
      status = 'failed';
      error = `the ${run.kind} job finished but its output could not be used: ${failure instanceof Error ? failure.message : String(failure)}`;
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

/** The policy and reward model entries a host rejection-sampling run's version records as its lineage. */
async function samplingModels(db: TDb, run: TRunRow): Promise<{ policyModelId: number; rewardModelId: number }> {
  const round = await requireRound(db, run.roundId!);
  const reward = (await stageRuns(db, round.id)).reward;
  if (!round.policyModelId || !reward?.outputModelId) throw new Error('the round has no registered policy or reward model');
  return { policyModelId: round.policyModelId, rewardModelId: reward.outputModelId };
}

async function evalContext(db: TDb, run: TRunRow) {
  const round = await requireRound(db, run.roundId!);
  const plan = storedPlan(round);
  const [previous] = round.policyModelId ? await db.select().from(models).where(eq(models.id, round.policyModelId)) : [];
  return { previousName: previous?.name ?? 'previous policy', humanProject: plan.eval.humanProject ?? null, humanComparisons: plan.eval.humanComparisons, gateThreshold: plan.register.gate.minWinRateLow };
}

/**
 * The trained reward model's registry entry: served where the plan says (so rejection sampling
 * and evaluation can score with it), else registered with serving 'none'.
 */
async function registerRewardModel(db: TDb, store: Pick<TArtifactStore, 'uri'>, run: TRunRow): Promise<number> {
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

/** Whether the queue still holds a job (waiting, retrying or active) that runs this worker-side run. */
async function workerJobPending(handle: TDbHandle, run: TRunRow): Promise<boolean> {
  try {
    const rows = await handle.sql`
      select 1 from pgboss.job
      where name = ${rejectionSamplingQueue} and data->>'runId' = ${String(run.id)} and state in ('created', 'retry', 'active')
      limit 1`;
    return rows.length > 0;
  } catch {
    return false; // no pg-boss schema here: nothing will retry it
  }
}

/** Marks a worker-side run running (for the stages this module runs itself). */
export async function markRunRunning(db: TDb, run: TRunRow): Promise<boolean> {
  const updated = await db
    .update(runs)
    .set({ status: 'running', startedAt: new Date(), heartbeatAt: new Date() })
    .where(and(eq(runs.id, run.id), eq(runs.attempt, run.attempt), inArray(runs.status, ['pending', 'submitted'])))
    .returning({ id: runs.id });
  return updated.length > 0;
}

/** Ends a worker-side run and lets the round advance, in one transaction. */
export async function finishRun(
  handle: TDbHandle,
  boss: PgBoss,
  run: TRunRow,
  result: { status: 'succeeded' | 'failed' | 'cancelled'; metrics?: Record<string, unknown>; error?: string; outputModelId?: number | null; spec?: Record<string, unknown> },
): Promise<void> {
  await inTx(handle, async (db, tx) => {
    const updated = await db
      .update(runs)
      .set({
        status: result.status,
        finishedAt: new Date(),
        heartbeatAt: new Date(),
        error: result.error ?? null,
        ...(result.metrics ? { metrics: { ...run.metrics, ...result.metrics } } : {}),
        ...(result.outputModelId !== undefined ? { outputModelId: result.outputModelId } : {}),
        ...(result.spec ? { spec: result.spec } : {}),
      })
      .where(and(eq(runs.id, run.id), eq(runs.attempt, run.attempt), inArray(runs.status, ['pending', 'submitted', 'running'])))
      .returning({ id: runs.id });
    if (updated.length) await enqueueAdvance(boss, tx, run.roundId);
  });
}

/**
 * Cancels a round: the active run is flagged (its poll asks the executor to stop; worker-side
 * stages watch the flag), a run not yet submitted is cancelled at once, and the round ends.
 */
export async function cancelRound(handle: TDbHandle, boss: PgBoss, roundId: number): Promise<TRoundRow> {
  await inTx(handle, async (db, tx) => {
    const [round] = await db.select().from(rounds).where(eq(rounds.id, roundId)).for('update');
    if (!round) throw new AppError('NOT_FOUND', `no round ${roundId}`);
    if (round.status !== 'running' && round.status !== 'planned') throw new AppError('CONFLICT', `round ${roundId} is ${round.status}`);
    const active = await db
      .select()
      .from(runs)
      .where(and(eq(runs.roundId, roundId), inArray(runs.status, ['pending', 'submitted', 'running'])));
    for (const run of active) {
      if (run.status === 'pending' && !run.externalId) {
        await db.update(runs).set({ status: 'cancelled', cancelRequested: true, finishedAt: new Date(), error: 'cancelled' }).where(eq(runs.id, run.id));
      } else {
        await db.update(runs).set({ cancelRequested: true }).where(eq(runs.id, run.id));
        if (isExecutorRun(run)) await enqueuePoll(boss, tx, run.id, 0);
      }
    }
    await db.update(rounds).set({ status: 'cancelled', finishedAt: new Date(), error: 'cancelled by an admin' }).where(eq(rounds.id, roundId));
  });
  return requireRound(handle.db, roundId);
}

/**
 * Retries a failed (or cancelled) round's current stage. The stage keeps its run row: the
 * attempt number goes up, the previous attempt's external id, error and GPU time are kept in
 * the run's metrics (`attempts`), its log stays under `logs/attempt-<n>.log`.
 */
export async function retryStage(handle: TDbHandle, boss: PgBoss, roundId: number, options: { gateOverrideReason?: string; by?: number | null } = {}): Promise<TRoundRow> {
  await inTx(handle, async (db, tx) => {
    const [round] = await db.select().from(rounds).where(eq(rounds.id, roundId)).for('update');
    if (!round) throw new AppError('NOT_FOUND', `no round ${roundId}`);
    if (round.status !== 'failed' && round.status !== 'cancelled') throw new AppError('CONFLICT', `round ${roundId} is ${round.status}: only a failed or cancelled round can retry a stage`);
    const [run] = await db
      .select()
      .from(runs)
      .where(and(eq(runs.roundId, roundId), eq(runs.stage, round.currentStage)))
      .orderBy(desc(runs.id))
      .limit(1);
    if (!run) throw new AppError('CONFLICT', `round ${roundId} has no run at stage ${round.currentStage}`);
    if (run.status === 'succeeded') {
      // The run ended well after the round had given up on it (a worker-side job's own retry
      // resumed it): nothing to run again, the round just moves on.
      await db.update(rounds).set({ status: 'running', error: null, finishedAt: null }).where(eq(rounds.id, roundId));
      await enqueueAdvance(boss, tx, roundId);
      return;
    }
    if (run.status !== 'failed' && run.status !== 'cancelled') throw new AppError('CONFLICT', `the stage's run is ${run.status}`);
    const attempts = Array.isArray((run.metrics as { attempts?: unknown }).attempts) ? ((run.metrics as { attempts: unknown[] }).attempts as unknown[]) : [];
    const metrics = {
      ...run.metrics,
      attempts: [...attempts, { attempt: run.attempt, externalId: run.externalId, status: run.status, error: run.error, gpuSeconds: run.gpuSeconds - priorGpuSeconds(run), finishedAt: run.finishedAt }],
      priorGpuSeconds: run.gpuSeconds,
    };
    const reason = options.gateOverrideReason?.trim();
    if (reason && run.kind !== 'register') throw new AppError('BAD_REQUEST', `a gate override applies to the register stage; round ${roundId} stopped at ${run.kind}`, { field: 'gateOverrideReason' });
    // The override is written into the stage's settings with who gave it: the register stage records it with the model.
    const spec = reason ? { ...run.spec, gate: { ...(run.spec.gate as Record<string, unknown> | undefined), overrideReason: reason, overrideBy: options.by ?? null } } : run.spec;
    const [next] = await db
      .update(runs)
      .set({ status: 'pending', attempt: run.attempt + 1, externalId: null, error: null, cancelRequested: false, submittedAt: null, startedAt: null, finishedAt: null, metrics, spec })
      .where(eq(runs.id, run.id))
      .returning();
    await db.update(rounds).set({ status: 'running', error: null, finishedAt: null }).where(eq(rounds.id, roundId));
    await enqueueStart(boss, tx, { ...next!, kind: next!.kind as TStageKind });
  });
  return requireRound(handle.db, roundId);
}

/**
 * After a worker restart: every running round gets an advance, every active run a start or a
 * poll. Jobs re-read rows, so extra jobs are harmless; lost ones are replaced.
 */
export async function resumeRounds(handle: TDbHandle, boss: PgBoss): Promise<{ rounds: number; runs: number }> {
  const running = await handle.db.select().from(rounds).where(eq(rounds.status, 'running'));
  let resumed = 0;
  for (const round of running) {
    const active = await handle.db
      .select()
      .from(runs)
      .where(and(eq(runs.roundId, round.id), inArray(runs.status, ['pending', 'submitted', 'running'])));
    await inTx(handle, async (_db, tx) => {
      for (const run of active) {
        resumed += 1;
        if (run.status === 'pending' || (!isExecutorRun(run) && run.kind !== 'rejection-sampling')) await enqueueStart(boss, tx, { ...run, kind: run.kind as TStageKind });
        else await enqueuePoll(boss, tx, run.id, 0);
      }
      await enqueueAdvance(boss, tx, round.id);
    });
  }
  return { rounds: running.length, runs: resumed };
}

// ---------------------------------------------------------------------------------------------
// Reading rounds
// ---------------------------------------------------------------------------------------------

export interface TRoundSummary {
  id: number;
  name: string;
  status: TRoundRow['status'];
  currentStage: number;
  stages: TStageKind[];
  error: string | null;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
  gpuHours: number;
}

function liveGpuSeconds(run: TRunRow, now: Date): number {
  if (run.status === 'running' || run.status === 'submitted') return priorGpuSeconds(run) + runGpuSeconds(run, now);
  return run.gpuSeconds;
}

export async function listRounds(db: TDb): Promise<TRoundSummary[]> {
  const rows = await db.select().from(rounds).orderBy(desc(rounds.createdAt), desc(rounds.id)).limit(200);
  const allRuns = rows.length ? await db.select().from(runs).where(inArray(runs.roundId, rows.map((r) => r.id))) : [];
  const now = new Date();
  return rows.map((round) => ({
    id: round.id,
    name: round.name,
    status: round.status,
    currentStage: round.currentStage,
    stages: planStages(storedPlan(round)),
    error: round.error,
    createdAt: round.createdAt,
    startedAt: round.startedAt,
    finishedAt: round.finishedAt,
    gpuHours: roundGpuHours(allRuns.filter((r) => r.roundId === round.id).map((r) => ({ gpuSeconds: liveGpuSeconds(r, now) }))),
  }));
}

async function readTail(store: TArtifactStore, key: string, bytes: number): Promise<string | null> {
  const size = await store.size(key);
  if (size === null) return null;
  const chunks: Buffer[] = [];
  for await (const chunk of await store.read(key)) chunks.push(Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk as string));
  const all = Buffer.concat(chunks);
  return all.subarray(Math.max(0, all.length - bytes)).toString('utf8');
}

export interface TRoundDetail extends TRoundSummary {
  plan: TRoundPlan;
  policyModelId: number | null;
  datasetVersionId: number | null;
  executorId: number | null;
  projectId: number | null;
  runs: (Omit<TRunRow, 'metrics'> & {
    metrics: Record<string, unknown>;
    training: TTrainingMetrics | null;
    gpuHours: number;
    logTail: string | null;
    artifacts: { key: string; bytes: number; uri: string }[];
    outputModel: { id: number; name: string; kind: string; serving: string } | null;
  })[];
}

/** A round with each stage's run: status, spec, metrics series, log tail, artifacts and GPU-hours. */
export async function getRound(db: TDb, store: TArtifactStore, roundId: number, options: { logTailBytes?: number } = {}): Promise<TRoundDetail> {
  const round = await requireRound(db, roundId);
  const plan = storedPlan(round);
  const rows = await db.select().from(runs).where(eq(runs.roundId, roundId)).orderBy(asc(runs.stage), asc(runs.id));
  const modelIds = rows.map((r) => r.outputModelId).filter((id): id is number => id !== null);
  const outputModels = modelIds.length ? await db.select().from(models).where(inArray(models.id, modelIds)) : [];
  const now = new Date();
  const detailed = await Promise.all(
    rows.map(async (run) => {
      const keys = runKeys(run.id);
      const artifacts = (await store.list(keys.prefix)).map((a) => ({ ...a, uri: store.uri(a.key) }));
      const model = outputModels.find((m) => m.id === run.outputModelId);
      const training = ((run.metrics as { training?: TTrainingMetrics }).training ?? null) as TTrainingMetrics | null;
      return {
        ...run,
        training,
        gpuHours: liveGpuSeconds(run, now) / 3600,
        logTail: await readTail(store, keys.log(run.attempt), options.logTailBytes ?? 16 * 1024),
        artifacts: artifacts.slice(0, 200),
        outputModel: model ? { id: model.id, name: model.name, kind: model.kind, serving: model.serving } : null,
      };
    }),
  );
  return {
    id: round.id,
    name: round.name,
    status: round.status,
    currentStage: round.currentStage,
    stages: planStages(plan),
    error: round.error,
    createdAt: round.createdAt,
    startedAt: round.startedAt,
    finishedAt: round.finishedAt,
    gpuHours: roundGpuHours(rows.map((r) => ({ gpuSeconds: liveGpuSeconds(r, now) }))),
    plan,
    policyModelId: round.policyModelId,
    datasetVersionId: round.datasetVersionId,
    executorId: round.executorId,
    projectId: round.projectId,
    runs: detailed,
  };
}
