import { and, eq, inArray } from 'drizzle-orm';
import type PgBoss from 'pg-boss';
import type { TDb, TDbHandle } from '@/db/client';
import { runs } from '@/db/schema';
import { priorGpuSeconds, type TRunRow } from './rows';
import { inTx } from '../jobs/transaction';
import { enqueueAdvance } from '../rounds/enqueue';
import { runGpuSeconds } from '../rounds/metrics';

/**
 * A run row's lifecycle, shared by executor runs and worker-side stages: every change is
 * conditional on the run's attempt and status, so late or duplicate calls do nothing, and it
 * enqueues the round's advance in the same transaction.
 */

/** Marks a run failed and lets the round see it. */
export async function failRun(handle: TDbHandle, boss: PgBoss, run: TRunRow, error: string): Promise<void> {
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
