import { eq } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { TDb, TDbHandle } from '@/db/client';
import { datasetVersions, executors, models, projects, rounds, runs } from '@/db/schema';
import { enqueueStart } from './enqueue';
import { ZRoundPlan, planStages, runsOnExecutor, stageGpus, type TRoundPlan, type TRoundPlanInput, type TStageKind } from './plan';
import { buildStageSpec, resolveOpponents, stageContext, storedPlan, type TStageContext, type TStageSpec } from './stage-specs';
import type { TArtifactStore } from '../artifacts/store';
import { AppError } from '../errors';
import { inTx } from '../jobs/transaction';
import { requireRound, type TRoundRow, type TRunRow } from '../runs/rows';
import { parseInput } from '../validation';

export interface TLaunchRound {
  name: string;
  policyModelId: number;
  datasetVersionId: number;
  executorId: number;
  projectId?: number | null;
  plan: TRoundPlanInput;
  createdBy?: number | null;
}

export async function loadLaunchContext(db: TDb, input: TLaunchRound) {
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
  if (plan.nextRound.enabled) {
    for (const [field, slug] of [['plan.nextRound.project', plan.nextRound.project], ['plan.nextRound.promptsProject', plan.nextRound.promptsProject]] as const) {
      if (slug && !(await db.select({ id: projects.id }).from(projects).where(eq(projects.slug, slug)))[0]) throw new AppError('BAD_REQUEST', `${field}: no project ${slug}`, { field });
    }
  }
  const opponents = await resolveOpponents(db, plan, policy);
  return { plan, policy, version, executor, opponents };
}

/**
 * What Preview and Launch both refuse: a plan the executor cannot run (more GPUs than a local
 * executor lists) or whose worker-side stages have nothing to call. Preview runs it too, so a
 * plan that previews well launches.
 */
export function checkPlanAgainst(plan: TRoundPlan, policy: typeof models.$inferSelect, executor: typeof executors.$inferSelect): void {
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
  if (plan.deploy.enabled && executor.kind !== 'local' && !plan.deploy.host) {
    throw new AppError('BAD_REQUEST', `plan.deploy.host: the deployment runs on ${executor.kind} executor ${executor.name}; name the address where the worker reaches it (a node, or a Service in front of the job)`, { field: 'plan.deploy.host' });
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
  const { plan, policy, opponents } = await loadLaunchContext(db, input);
  const context: TStageContext = { round: { id: 0, datasetVersionId: input.datasetVersionId, policyModelId: input.policyModelId }, plan, policy, previous: {}, opponents };
  return { plan, stages: planStages(plan).map((kind, index) => ({ index, kind, spec: buildStageSpec(store, context, kind, `preview-${index}`) })) };
}

/**
 * Writes a stage's run with its spec as it stands now (the earlier stages are done, so their
 * outputs are known). A worker-side run's spec is exactly the settings its job reads.
 */
export async function createStageRun(db: TDb, store: Pick<TArtifactStore, 'uri'>, round: TRoundRow, index: number, kind: TStageKind): Promise<TRunRow> {
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
