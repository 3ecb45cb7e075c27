import { and, desc, eq, sql as dsql } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { TDb, TDbHandle } from '@/db/client';
import { exports, projects } from '@/db/schema';
import type { TArtifactStore } from '../artifacts/store';
import { AppError } from '../errors';
import type { TExportFormat } from '../formats/preference-formats';
import { inTransaction, jobs } from '../jobs/queue';
import { exportExtension, streamExport } from './export-lines';

export type TExport = typeof exports.$inferSelect;

/** Records an export request and enqueues its job in the same transaction. */
export async function requestExport(
  handle: TDbHandle,
  boss: PgBoss,
  input: { projectId: number; requestedBy: number; format: TExportFormat },
): Promise<TExport> {
  // Raw SQL on the postgres.js transaction, which pg-boss can share; drizzle cannot wrap it.
  const id = await handle.sql.begin(async (tx) => {
    const [row] = await tx<{ id: string }[]>`
      insert into exports (project_id, requested_by, format) values (${input.projectId}, ${input.requestedBy}, ${input.format}) returning id`;
    const exportId = Number(row!.id);
    const jobId = await boss.send(jobs.exportProject.name, { exportId }, { db: inTransaction(tx), singletonKey: `export-${exportId}` });
    if (!jobId) throw new Error('the export queue does not exist: run the worker (npm start) once');
    return exportId;
  });
  const [created] = await handle.db.select().from(exports).where(eq(exports.id, id));
  return created!;
}

export async function listExports(db: TDb, projectId: number, limit = 20): Promise<TExport[]> {
  return db.select().from(exports).where(eq(exports.projectId, projectId)).orderBy(desc(exports.id)).limit(limit);
}

export async function getExport(db: TDb, input: { exportId: number; projectId: number }): Promise<TExport> {
  const [row] = await db.select().from(exports).where(and(eq(exports.id, input.exportId), eq(exports.projectId, input.projectId)));
  if (!row) throw new AppError('NOT_FOUND', `no export ${input.exportId} in this project`);
  return row;
}

export async function getExportWithProject(db: TDb, exportId: number): Promise<{ export: TExport; projectSlug: string } | null> {
  const [row] = await db
    .select({ export: exports, projectSlug: projects.slug })
    .from(exports)
    .innerJoin(projects, eq(projects.id, exports.projectId))
    .where(eq(exports.id, exportId));
  return row ?? null;
}

export function exportFileName(row: Pick<TExport, 'id' | 'format'>, projectSlug: string): string {
  return `${projectSlug}-${row.format}-${row.id}.${exportExtension(row.format)}`;
}

/**
 * Produces the file of a queued export. Safe to run twice (a retried job): a finished
 * export is left alone, and the artifact is written atomically under a fixed key.
 */
export async function runExport(handle: TDbHandle, store: TArtifactStore, exportId: number): Promise<TExport | null> {
  const { db } = handle;
  const [row] = await db
    .select({ export: exports, slug: projects.slug })
    .from(exports)
    .innerJoin(projects, eq(projects.id, exports.projectId))
    .where(eq(exports.id, exportId));
  if (!row) return null;
  if (row.export.status === 'succeeded') return row.export;

  await db.update(exports).set({ status: 'running', startedAt: dsql`now()`, error: null }).where(eq(exports.id, exportId));
  const key = `exports/${exportFileName(row.export, row.slug)}`;
  let rowCount = 0;
  try {
    await store.write(key, streamExport(handle.sql, row.export.projectId, row.export.format, { onRows: (n) => (rowCount += n) }));
  } catch (error) {
    const [failed] = await db
      .update(exports)
      .set({ status: 'failed', error: (error as Error).message, finishedAt: dsql`now()` })
      .where(eq(exports.id, exportId))
      .returning();
    return failed ?? null;
  }
  const [done] = await db
    .update(exports)
    .set({ status: 'succeeded', rowCount, artifactKey: key, finishedAt: dsql`now()` })
    .where(eq(exports.id, exportId))
    .returning();
  return done ?? null;
}
