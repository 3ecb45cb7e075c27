import { eq } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { rounds, runs } from '@/db/schema';
import { AppError } from '../errors';

/** Round and run rows: reading them, and what a run carries over from its earlier attempts. */

export type TRoundRow = typeof rounds.$inferSelect;
export type TRunRow = typeof runs.$inferSelect;

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

/** GPU time of the run's earlier attempts (a retry keeps counting from there). */
export function priorGpuSeconds(run: TRunRow): number {
  const prior = (run.metrics as { priorGpuSeconds?: unknown }).priorGpuSeconds;
  return typeof prior === 'number' ? prior : 0;
}
