import { asc, desc, eq, inArray } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { models, rounds, runs } from '@/db/schema';
import { roundGpuHours, runGpuSeconds, type TTrainingMetrics } from './metrics';
import { planStages, type TRoundPlan, type TStageKind } from './plan';
import { runKeys } from './specs';
import { storedPlan } from './stage-specs';
import type { TArtifactStore } from '../artifacts/store';
import { priorGpuSeconds, requireRound, type TRoundRow, type TRunRow } from '../runs/rows';

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

export function liveGpuSeconds(run: TRunRow, now: Date): number {
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

export async function readTail(store: TArtifactStore, key: string, bytes: number): Promise<string | null> {
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
