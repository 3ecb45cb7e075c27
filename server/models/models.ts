import { and, asc, eq, inArray } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { models, projectModels, rounds } from '@/db/schema';
import { ZRegisterModel, ZSetProjectModels, type TRegisterModel } from './schemas';
import { AppError } from '../errors';
import { isForbiddenApiKeyVariable } from '../secret-names';
import { parseInput } from '../validation';

/**
 * A registered model as admins see it. There is no key to leave out (only the name of the
 * variable that holds it); `keyConfigured` says whether that variable is set on this server.
 */
export interface TModelInfo {
  id: number;
  name: string;
  kind: 'policy' | 'reward';
  serving: 'openai' | 'vllm-classify' | 'onnx-local' | 'none';
  baseUrl: string;
  apiModel: string;
  apiKeyEnv: string | null;
  keyConfigured: boolean;
  sampling: { temperature?: number; top_p?: number; max_tokens?: number };
  enabled: boolean;
  artifactUri: string | null;
  baseModel: string | null;
  /** Lineage: the round and run that produced it, the dataset versions it was trained on. */
  roundId: number | null;
  runId: number | null;
  datasetVersionIds: number[];
  createdAt: Date;
}

type TModelRow = typeof models.$inferSelect;

function toInfo(row: TModelRow): TModelInfo {
  return {
    id: row.id,
    name: row.name,
    kind: row.kind,
    serving: row.serving,
    baseUrl: row.baseUrl,
    apiModel: row.apiModel,
    apiKeyEnv: row.apiKeyEnv,
    // Whether a forbidden variable is set is not reported either: that too would tell what the server holds.
    keyConfigured: row.apiKeyEnv ? !isForbiddenApiKeyVariable(row.apiKeyEnv) && Boolean(process.env[row.apiKeyEnv]) : true,
    sampling: row.sampling,
    enabled: row.enabled,
    artifactUri: row.artifactUri,
    baseModel: row.baseModel,
    roundId: row.roundId,
    runId: row.runId,
    datasetVersionIds: row.datasetVersionIds,
    createdAt: row.createdAt,
  };
}

export async function registerModel(db: TDb, input: TRegisterModel): Promise<TModelInfo> {
  const data = parseInput(ZRegisterModel, input);
  const [row] = await db
    .insert(models)
    .values({
      name: data.name,
      kind: data.kind,
      serving: data.serving,
      baseUrl: data.baseUrl ?? '',
      apiModel: data.apiModel ?? '',
      apiKeyEnv: data.apiKeyEnv ?? null,
      sampling: data.sampling,
      artifactUri: data.artifactUri ?? null,
      baseModel: data.baseModel ?? null,
    })
    .onConflictDoNothing({ target: models.name })
    .returning();
  if (!row) throw new AppError('CONFLICT', `a model named ${data.name} already exists`, { field: 'name' });
  return toInfo(row);
}

export async function listModels(db: TDb): Promise<TModelInfo[]> {
  return (await db.select().from(models).orderBy(asc(models.name))).map(toInfo);
}

/** Model ids by name, for the CLI; unknown names are a 400 that lists them. */
export async function resolveModelIds(db: TDb, names: string[]): Promise<number[]> {
  const rows = names.length ? await db.select({ id: models.id, name: models.name }).from(models).where(inArray(models.name, names)) : [];
  const byName = new Map(rows.map((r) => [r.name, r.id]));
  const unknown = names.filter((n) => !byName.has(n));
  if (unknown.length) throw new AppError('BAD_REQUEST', `no model named ${unknown.join(', ')}`, { field: 'models' });
  return names.map((n) => byName.get(n)!);
}

/** Replaces the set of models that answer in a project's live generation. */
export async function setProjectModels(db: TDb, input: { projectId: number; modelIds: number[] }): Promise<TModelInfo[]> {
  const data = parseInput(ZSetProjectModels, input);
  const ids = [...new Set(data.modelIds)];
  return db.transaction(async (tx) => {
    const found = ids.length ? await tx.select({ id: models.id }).from(models).where(inArray(models.id, ids)) : [];
    const missing = ids.filter((id) => !found.some((f) => f.id === id));
    if (missing.length) throw new AppError('BAD_REQUEST', `no model with id ${missing.join(', ')}`, { field: 'modelIds' });
    await tx.delete(projectModels).where(eq(projectModels.projectId, data.projectId));
    if (ids.length) await tx.insert(projectModels).values(ids.map((modelId) => ({ projectId: data.projectId, modelId })));
    return listProjectModels(tx, data.projectId);
  });
}

export async function listProjectModels(db: TDb, projectId: number): Promise<TModelInfo[]> {
  const rows = await db
    .select({ model: models })
    .from(projectModels)
    .innerJoin(models, eq(models.id, projectModels.modelId))
    .where(eq(projectModels.projectId, projectId))
    .orderBy(asc(models.name));
  return rows.map((r) => toInfo(r.model));
}

/** The project's models that can answer live prompts right now. */
export async function listLiveModels(db: TDb, projectId: number): Promise<TModelRow[]> {
  const rows = await db
    .select({ model: models })
    .from(projectModels)
    .innerJoin(models, eq(models.id, projectModels.modelId))
    .where(and(eq(projectModels.projectId, projectId), eq(models.enabled, true), eq(models.kind, 'policy'), eq(models.serving, 'openai')))
    .orderBy(asc(models.id));
  return rows.map((r) => r.model);
}

export interface TLineageStep {
  model: TModelInfo;
  round: { id: number; name: string; status: string } | null;
}

/**
 * Where a model comes from: the model itself, then the policy its round started from, and so on
 * back to a model no round produced (a base model someone registered). Stops at cycles.
 */
export async function modelLineage(db: TDb, modelId: number): Promise<TLineageStep[]> {
  const steps: TLineageStep[] = [];
  const seen = new Set<number>();
  let next: number | null = modelId;
  while (next !== null && !seen.has(next) && steps.length < 100) {
    seen.add(next);
    const [row] = await db.select().from(models).where(eq(models.id, next));
    if (!row) {
      if (steps.length === 0) throw new AppError('NOT_FOUND', `no model with id ${modelId}`);
      break;
    }
    const [round] = row.roundId ? await db.select({ id: rounds.id, name: rounds.name, status: rounds.status, policyModelId: rounds.policyModelId }).from(rounds).where(eq(rounds.id, row.roundId)) : [];
    steps.push({ model: toInfo(row), round: round ? { id: round.id, name: round.name, status: round.status } : null });
    next = round?.policyModelId ?? null;
  }
  return steps;
}
