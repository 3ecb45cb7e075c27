import { and, desc, eq, inArray, lt, sql as dsql } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import { z } from 'zod';
import type { TDb, TDbHandle } from '@/db/client';
import { datasetVersionProjects, datasetVersions, projects } from '@/db/schema';
import { AppError } from '../errors';
import { inTransaction, jobs } from '../jobs/queue';
import { issuePath } from '../validation';
import type { TDatasetVersion } from './build-version';
import { normalizeSpec, type TDatasetSpec, type TDatasetSpecInput } from './spec';

export type { TDatasetVersion } from './build-version';

/** Checks and normalises a spec; bad input is a 400 naming the field. */
export function parseSpec(input: TDatasetSpecInput): TDatasetSpec {
  try {
    return normalizeSpec(input);
  } catch (error) {
    if (error instanceof z.ZodError) {
      const issue = error.issues[0]!;
      const field = issuePath(issue.path);
      throw new AppError('BAD_REQUEST', `${field ? `${field}: ` : ''}${issue.message}`, { field: field || 'spec' });
    }
    throw error;
  }
}

/** The ids of the spec's projects, in slug order; an unknown slug is a 404 naming it. */
export async function resolveSpecProjects(db: TDb, spec: TDatasetSpec): Promise<number[]> {
  const rows = await db.select({ id: projects.id, slug: projects.slug }).from(projects).where(inArray(projects.slug, spec.projects));
  return spec.projects.map((slug) => {
    const row = rows.find((r) => r.slug === slug);
    if (!row) throw new AppError('NOT_FOUND', `no project with slug ${slug}`, { field: 'projects' });
    return row.id;
  });
}

/**
 * Records a version request and enqueues its build in one transaction. The caller has checked
 * that the user may build from every project of the spec.
 */
export async function requestDatasetVersion(
  handle: TDbHandle,
  boss: PgBoss,
  input: { name: string; spec: TDatasetSpec; projectIds: number[]; createdBy: number | null },
): Promise<TDatasetVersion> {
  const name = input.name.trim();
  if (!name) throw new AppError('BAD_REQUEST', 'a version needs a name', { field: 'name' });
  if (name.length > 200) throw new AppError('BAD_REQUEST', 'the name is longer than 200 characters', { field: 'name' });
  const id = await handle.sql.begin(async (tx) => {
    const [row] = await tx<{ id: string }[]>`
      insert into dataset_versions (name, spec, created_by) values (${name}, ${JSON.stringify(input.spec)}::jsonb, ${input.createdBy}) returning id`;
    const versionId = Number(row!.id);
    await tx`insert into dataset_version_projects (version_id, project_id) select ${versionId}, unnest(${input.projectIds}::bigint[])`;
    const jobId = await boss.send(jobs.buildDataset.name, { versionId }, { db: inTransaction(tx), singletonKey: `dataset-${versionId}` });
    if (!jobId) throw new Error('the dataset queue does not exist: run the worker (npm start) once');
    return versionId;
  });
  return requireDatasetVersion(handle.db, id);
}

export async function requireDatasetVersion(db: TDb, versionId: number): Promise<TDatasetVersion> {
  const [row] = await db.select().from(datasetVersions).where(eq(datasetVersions.id, versionId));
  if (!row) throw new AppError('NOT_FOUND', `no dataset version ${versionId}`, { field: 'version' });
  return row;
}

/** The project ids a version draws from. */
export async function versionProjectIds(db: TDb, versionId: number): Promise<number[]> {
  const rows = await db.select({ id: datasetVersionProjects.projectId }).from(datasetVersionProjects).where(eq(datasetVersionProjects.versionId, versionId));
  return rows.map((r) => r.id);
}

/**
 * Versions newest first, a page at a time. `visibleProjects`: only versions every one of whose
 * projects is in the list (null: all, for platform admins).
 */
export async function listDatasetVersions(
  db: TDb,
  options: { visibleProjects: number[] | null; limit?: number; before?: number | null; project?: number | null },
): Promise<TDatasetVersion[]> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 50), 1), 500);
  const visible = options.visibleProjects;
  const conditions = [
    options.before ? lt(datasetVersions.id, options.before) : undefined,
    visible === null
      ? undefined
      : dsql`not exists (select 1 from dataset_version_projects vp where vp.version_id = ${datasetVersions.id}
          and not (vp.project_id = any(${`{${visible.map(Math.trunc).join(',')}}`}::bigint[])))`,
    options.project
      ? dsql`exists (select 1 from dataset_version_projects vp where vp.version_id = ${datasetVersions.id} and vp.project_id = ${options.project})`
      : undefined,
  ].filter((c) => c !== undefined);
  return db
    .select()
    .from(datasetVersions)
    .where(conditions.length ? and(...conditions) : undefined)
    .orderBy(desc(datasetVersions.id))
    .limit(limit);
}

/** Stops a queued or running build (the worker checks between batches). Built versions stay. */
export async function cancelDatasetVersion(db: TDb, versionId: number): Promise<TDatasetVersion> {
  const [row] = await db
    .update(datasetVersions)
    .set({ status: 'cancelled', finishedAt: dsql`now()` })
    .where(and(eq(datasetVersions.id, versionId), inArray(datasetVersions.status, ['queued', 'running'])))
    .returning();
  if (row) return row;
  const current = await requireDatasetVersion(db, versionId);
  throw new AppError('CONFLICT', `dataset version ${versionId} is ${current.status}: only queued or running builds can be cancelled`);
}

/** A succeeded version, or a clear error saying why it cannot be read yet. */
export async function requireBuiltVersion(db: TDb, versionId: number): Promise<TDatasetVersion> {
  const version = await requireDatasetVersion(db, versionId);
  if (version.status !== 'succeeded') throw new AppError('CONFLICT', `dataset version ${versionId} is ${version.status}, not built`, { field: 'version' });
  return version;
}
