import { asc, eq } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { models, runs } from '@/db/schema';
import { ZRoundPlan, padTokenFor, planStages, runsOnExecutor, type TRoundPlan, type TStageKind } from './plan';
import { sampleRunSpec, serveRunSpec } from './host-job-specs';
import { mergeRunSpec, runKeys, trlRunSpec, withConfig, type TRunSpec } from './specs';
import type { TArtifactStore } from '../artifacts/store';
import { AppError } from '../errors';
import { requireRound, type TRoundRow, type TRunRow } from '../runs/rows';

export function storedPlan(round: TRoundRow): TRoundPlan {
  return ZRoundPlan.parse(round.plan);
}


export interface TStageContext {
  round: Pick<TRoundRow, 'id' | 'datasetVersionId' | 'policyModelId'>;
  plan: TRoundPlan;
  /** The policy the round starts from. */
  policy: { id: number; name: string; artifactUri: string | null; baseModel: string | null } | null;
  /** The latest run of each earlier stage (absent in a preview). */
  previous: Partial<Record<TStageKind, TRunRow>>;
  /** The next round's opponents with their weights (see resolveOpponents). */
  opponents?: TOpponent[];
}

export interface TOpponent {
  id: number;
  name: string;
  uri: string;
}

/**
 * The models that answer the next round's prompts beside the new policy: "previous" is the
 * policy the round started from, other names are registered models, which need weights (an
 * artifact URI or a hub id as base model): the generation runs on the host over checkpoints.
 */
export async function resolveOpponents(db: TDb, plan: TRoundPlan, policy: TStageContext['policy']): Promise<TOpponent[]> {
  if (!plan.nextRound.enabled) return [];
  const out: TOpponent[] = [];
  for (const [i, name] of plan.nextRound.opponents.entries()) {
    const row = name === 'previous' ? policy : (await db.select().from(models).where(eq(models.name, name)))[0];
    const uri = row?.artifactUri ?? row?.baseModel ?? (name === 'previous' ? plan.baseModel : null);
    if (!row || !uri) {
      throw new AppError('BAD_REQUEST', `plan.nextRound.opponents[${i}]: ${row ? `${name} has no weights (artifactUri or baseModel) to answer from` : `no registered model named ${name}`}`, { field: `plan.nextRound.opponents.${i}` });
    }
    out.push({ id: row.id, name: row.name, uri });
  }
  return out;
}

/** A stage's spec: a training run spec (executor stages) or the settings of a worker-side stage. */
export type TStageSpec = ({ runner: 'executor' } & TRunSpec) | { runner: 'worker'; kind: TStageKind; settings: Record<string, unknown>; gpus: 0 };

export function outputUriOf(store: Pick<TArtifactStore, 'uri'>, run: TRunRow | undefined, stageIndex: number): string {
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
          ...sampleRunSpec(store, { kind, runRef, models: [{ name: 'policy', uri: policyWeights }], rewardModelUri: rewardUri, prompts: { versionId, split: 'train' }, k, systemPrompts, sampling, gpus }),
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
          ...sampleRunSpec(store, { kind, runRef, models, rewardModelUri: rewardUri, prompts: { versionId, split: 'test' }, maxPrompts: plan.eval.maxPrompts, k: 1, sampling: plan.eval.sampling, gpus: plan.eval.gpus }),
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
    case 'deploy':
      return { runner: 'executor', ...serveRunSpec(store, { runRef, name: plan.register.name, modelUri: candidateUri, port: plan.deploy.port, gpus: plan.deploy.gpus }) };
    case 'generate': {
      const { project, promptsProject, maxPrompts, sampling, gpus } = plan.nextRound;
      const models = [{ name: plan.register.name, uri: candidateUri }, ...(context.opponents ?? []).map((o) => ({ name: o.name, uri: o.uri }))];
      return {
        runner: 'executor',
        ...sampleRunSpec(store, { kind, runRef, models, rewardModelUri: null, prompts: { projectSlug: promptsProject ?? project! }, maxPrompts, k: 1, sampling, gpus }),
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


/** Whether a run goes to an executor (its spec is a run spec) or runs in the worker (its spec is the stage's settings). */
export function isExecutorRun(run: { spec: Record<string, unknown> }): boolean {
  return run.spec.runner === 'executor';
}

/** The latest run of each stage of a round, by stage kind. */
export async function stageRuns(db: TDb, roundId: number): Promise<Partial<Record<TStageKind, TRunRow>>> {
  const rows = await db.select().from(runs).where(eq(runs.roundId, roundId)).orderBy(asc(runs.stage), asc(runs.id));
  const out: Partial<Record<TStageKind, TRunRow>> = {};
  for (const row of rows) out[row.kind as TStageKind] = row;
  return out;
}

export async function stageContext(db: TDb, round: TRoundRow): Promise<TStageContext> {
  const plan = storedPlan(round);
  const [policy] = round.policyModelId ? await db.select().from(models).where(eq(models.id, round.policyModelId)) : [];
  return { round, plan, policy: policy ?? null, previous: await stageRuns(db, round.id), opponents: await resolveOpponents(db, plan, policy ?? null) };
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
