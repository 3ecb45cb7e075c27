import type PgBoss from 'pg-boss';
import type { z } from 'zod';
import type { TDbHandle } from '@/db/client';
import type { TArtifactStore } from '@/server/artifacts/store';
import { createJobLocks, failOrphanedJobs } from '@/server/jobs/orphaned-jobs';
import { createBoss, DEAD_LETTER_QUEUE, ensureQueues } from '@/server/jobs/queue';
import { buildDatasetJob } from './jobs/build-dataset';
import { countTokensJob } from './jobs/count-tokens';
import { exportProjectJob } from './jobs/export-project';
import { generateJob } from './jobs/generate';
import { rejectionSamplingJob } from './jobs/rejection-sampling';
import { roundAdvanceJob } from './jobs/round-advance';
import { roundStageJob } from './jobs/round-stage';
import { runPollJob } from './jobs/run-poll';
import { runSubmitJob } from './jobs/run-submit';
import type { TExecutor } from '@/server/executors/types';
import { resumeRounds } from '@/server/rounds/rounds';

interface TJobDefinition<P extends z.ZodType> {
  name: string;
  payload: P;
  handle(deps: TWorkerDeps, payload: z.output<P>, job: TJobAttempt): Promise<unknown>;
}

/** Which attempt of its job a handler runs: a retry (attempt > 0) follows an attempt that failed or whose worker died. */
export interface TJobAttempt {
  id: string;
  attempt: number;
  /** This worker alone holds the job's lock: no earlier attempt of it is still running anywhere. */
  alone: boolean;
}

export interface TWorkerDeps {
  db: TDbHandle;
  store: TArtifactStore;
  /** The worker's own queue, for jobs that schedule others (set by startWorker). */
  boss?: PgBoss;
  /** Seconds between polls of a running training run (default 15). */
  pollSeconds?: number;
  /** Replaces the executors table lookup (tests). */
  executorFor?: (executorId: number) => Promise<TExecutor>;
}

const definitions: TJobDefinition<z.ZodType>[] = [exportProjectJob, countTokensJob, buildDatasetJob, runSubmitJob, runPollJob, roundAdvanceJob, roundStageJob, rejectionSamplingJob, generateJob] as TJobDefinition<z.ZodType>[];

/** How often a worker looks for jobs whose worker died. */
const ORPHAN_SWEEP_MS = 5_000;
/** How long stopping waits for running jobs before failing them back to the queue. */
const STOP_GRACE_MS = 8_000;

export interface TRunningWorker {
  boss: PgBoss;
  stop(): Promise<void>;
}

/**
 * Starts pg-boss and registers every job. A payload that fails validation can never succeed,
 * so it goes straight to the dead-letter queue instead of being retried.
 */
export async function startWorker(url: string, deps: TWorkerDeps, log: (line: string) => void = console.log): Promise<TRunningWorker> {
  const boss = createBoss(url, 'worker');
  boss.on('error', (error) => log(`[worker] queue error: ${String(error)}`));
  await boss.start();
  await ensureQueues(boss);
  const jobDeps: TWorkerDeps = { ...deps, boss };
  const locks = createJobLocks(url, log);

  for (const definition of definitions) {
    await boss.work(definition.name, { batchSize: 1, pollingIntervalSeconds: 0.5, includeMetadata: true }, async ([job]) => {
      if (!job) return;
      const parsed = definition.payload.safeParse(job.data);
      if (!parsed.success) {
        await boss.send(DEAD_LETTER_QUEUE, { queue: definition.name, jobId: job.id, data: job.data, error: parsed.error.message });
        log(`[worker] ${definition.name} ${job.id}: invalid payload, moved to ${DEAD_LETTER_QUEUE}`);
        return;
      }
      const started = Date.now();
      const alone = await locks.hold(job.id);
      try {
        const result = await definition.handle(jobDeps, parsed.data, { id: job.id, attempt: job.retryCount, alone });
        log(`[worker] ${definition.name} ${job.id} done in ${Date.now() - started} ms ${JSON.stringify(result)}`);
        return result;
      } finally {
        await locks.release(job.id);
      }
    });
  }
  // Jobs left active by a worker that died (killed, out of memory, its machine gone) are retried
  // within seconds, not after pg-boss's expiry; checked now and then, since any worker may die.
  const sweep = async () => {
    try {
      await locks.reassert();
      for (const job of await failOrphanedJobs(deps.db.sql, boss)) log(`[worker] ${job.name} ${job.id}: its worker stopped, retrying it`);
    } catch (error) {
      log(`[worker] looking for jobs of stopped workers failed: ${(error as Error).message}`);
    }
  };
  await sweep();
  const sweeper = setInterval(() => void sweep(), ORPHAN_SWEEP_MS);
  sweeper.unref();
  // Rounds in flight when the last worker stopped: their runs are polled or started again.
  await resumeRounds(deps.db, boss).catch((error: unknown) => log(`[worker] resuming rounds failed: ${String(error)}`));
  return {
    boss,
    stop: async () => {
      clearInterval(sweeper);
      // Running jobs get a few seconds to finish; pg-boss then fails what is left, so it is retried.
      await boss.stop({ graceful: true, wait: true, timeout: STOP_GRACE_MS });
      await locks.close();
    },
  };
}
