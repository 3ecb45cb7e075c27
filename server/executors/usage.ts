import { and, desc, eq, lt, sql } from 'drizzle-orm';
import { z } from 'zod';
import type { TDb } from '@/db/client';
import { executors, rounds, runs, runStatus } from '@/db/schema';
import { parseInput } from '../validation';
import { getExecutor } from './executors';

type TRunStatus = (typeof runStatus.enumValues)[number];

/** What one executor's runs used: GPU-hours over three windows and the runs by status. */
export interface TExecutorUsage {
  executorId: number;
  gpuHours7d: number;
  gpuHours30d: number;
  gpuHoursTotal: number;
  runs: Record<TRunStatus, number> & { total: number; active: number };
  lastRunAt: Date | null;
}

export interface TExecutorRun {
  id: number;
  roundId: number | null;
  roundName: string | null;
  stage: number | null;
  kind: (typeof runs.$inferSelect)['kind'];
  status: TRunStatus;
  attempt: number;
  externalId: string | null;
  gpus: number;
  gpuHours: number;
  createdAt: Date;
  startedAt: Date | null;
  finishedAt: Date | null;
}

export const ZExecutorRunsPage = z.object({
  executorId: z.number().int().positive(),
  /** The previous page's nextCursor (tRPC's name for it, so pages work with useInfiniteQuery): runs older than this id. */
  cursor: z.number().int().positive().nullish(),
  limit: z.number().int().min(1).max(100).default(20),
});
export type TExecutorRunsPage = z.input<typeof ZExecutorRunsPage>;

const active = sql`${runs.status} in ('submitted', 'running')`;

/**
 * A run's GPU-seconds as the rounds page counts them (server/rounds/read-rounds.ts liveGpuSeconds):
 * the stored figure, which the worker updates from the engine's start and end times at each poll,
 * and for a run still going, earlier attempts plus GPUs × the time since it started.
 */
const liveGpuSeconds = sql<number>`(case when ${active} then
    coalesce(case when jsonb_typeof(${runs.metrics} -> 'priorGpuSeconds') = 'number' then (${runs.metrics} ->> 'priorGpuSeconds')::float8 end, 0)
    + case when ${runs.startedAt} is not null and ${runs.gpus} > 0
        then ${runs.gpus} * greatest(0, extract(epoch from (coalesce(${runs.finishedAt}, now()) - ${runs.startedAt})))
        else 0 end
  else ${runs.gpuSeconds} end)`;

/** When a run's GPU time counts for a window: when it ended, or now while it is active. */
const countedAt = sql`(case when ${active} then now() else coalesce(${runs.finishedAt}, ${runs.startedAt}, ${runs.createdAt}) end)`;

const hours = (seconds: number | string | null) => Number(seconds ?? 0) / 3600;

/**
 * GPU-hours and run counts of every executor, in one aggregate query. A run's GPU time counts in
 * the window in which it ended (or now, while it runs): a 40-hour run that finished yesterday is
 * 40 GPU-hours of the last 7 days. Runs whose executor was deleted have none and are not counted.
 */
export async function executorUsage(db: TDb): Promise<TExecutorUsage[]> {
  const countOf = (status: TRunStatus) => sql<number>`(count(${runs.id}) filter (where ${runs.status} = ${status}))::int`;
  const rows = await db
    .select({
      executorId: executors.id,
      gpuSeconds7d: sql<string>`coalesce(sum(${liveGpuSeconds}) filter (where ${countedAt} >= now() - interval '7 days'), 0)::float8`,
      gpuSeconds30d: sql<string>`coalesce(sum(${liveGpuSeconds}) filter (where ${countedAt} >= now() - interval '30 days'), 0)::float8`,
      gpuSecondsTotal: sql<string>`coalesce(sum(${liveGpuSeconds}), 0)::float8`,
      total: sql<number>`count(${runs.id})::int`,
      pending: countOf('pending'),
      submitted: countOf('submitted'),
      running: countOf('running'),
      succeeded: countOf('succeeded'),
      failed: countOf('failed'),
      cancelled: countOf('cancelled'),
      lastRunAt: sql<Date | null>`max(${runs.createdAt})`.mapWith(runs.createdAt),
    })
    .from(executors)
    .leftJoin(runs, eq(runs.executorId, executors.id))
    .groupBy(executors.id)
    .orderBy(executors.id);
  return rows.map((r) => ({
    executorId: r.executorId,
    gpuHours7d: hours(r.gpuSeconds7d),
    gpuHours30d: hours(r.gpuSeconds30d),
    gpuHoursTotal: hours(r.gpuSecondsTotal),
    runs: {
      total: r.total,
      active: r.submitted + r.running,
      pending: r.pending,
      submitted: r.submitted,
      running: r.running,
      succeeded: r.succeeded,
      failed: r.failed,
      cancelled: r.cancelled,
    },
    lastRunAt: r.lastRunAt ?? null,
  }));
}

/** One executor's runs, newest first, a page at a time (the cursor is the last run id shown). */
export async function executorRuns(db: TDb, input: TExecutorRunsPage): Promise<{ items: TExecutorRun[]; nextCursor: number | null }> {
  const query = parseInput(ZExecutorRunsPage, input);
  await getExecutor(db, query.executorId);
  const rows = await db
    .select({
      id: runs.id,
      roundId: runs.roundId,
      roundName: rounds.name,
      stage: runs.stage,
      kind: runs.kind,
      status: runs.status,
      attempt: runs.attempt,
      externalId: runs.externalId,
      gpus: runs.gpus,
      gpuSeconds: sql<string>`${liveGpuSeconds}::float8`,
      createdAt: runs.createdAt,
      startedAt: runs.startedAt,
      finishedAt: runs.finishedAt,
    })
    .from(runs)
    .leftJoin(rounds, eq(rounds.id, runs.roundId))
    .where(and(eq(runs.executorId, query.executorId), query.cursor ? lt(runs.id, query.cursor) : undefined))
    .orderBy(desc(runs.id))
    .limit(query.limit + 1);
  const page = rows.slice(0, query.limit);
  return {
    items: page.map(({ gpuSeconds, ...run }) => ({ ...run, gpuHours: hours(gpuSeconds) })),
    nextCursor: rows.length > query.limit ? page[page.length - 1]!.id : null,
  };
}
