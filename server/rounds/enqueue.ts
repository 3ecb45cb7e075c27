import type PgBoss from 'pg-boss';
import type { TStageKind } from './plan';
import { isExecutorRun } from './stage-specs';
import { inTransaction, jobs } from '../jobs/queue';
import type { TTx } from '../jobs/transaction';

/** The round machinery's jobs, typed by the queue registry (server/jobs/queue.ts), always enqueued inside the caller's transaction. */

/** Enqueues the job that starts a run, inside the caller's transaction. */
export async function enqueueStart(boss: PgBoss, tx: TTx, run: { id: number; kind: TStageKind; attempt: number; spec: Record<string, unknown> }): Promise<void> {
  const db = inTransaction(tx);
  if (isExecutorRun(run)) {
    await boss.send(jobs.runSubmit.name, { runId: run.id }, { db, singletonKey: `run-submit-${run.id}-${run.attempt}` });
  } else if (run.kind === 'rejection-sampling') {
    const jobId = await boss.send(jobs.rejectionSampling.name, { runId: run.id }, { db, singletonKey: `rejection-sampling-${run.id}-${run.attempt}` });
    // The poll asks pg-boss whether this job will still retry a failed run (see workerJobPending).
    if (jobId) await tx`update runs set metrics = metrics || ${JSON.stringify({ workerJobId: jobId })}::jsonb where id = ${run.id}`;
    await boss.send(jobs.runPoll.name, { runId: run.id }, { db, startAfter: 1 });
  } else {
    await boss.send(jobs.roundStage.name, { runId: run.id }, { db, singletonKey: `round-stage-${run.id}-${run.attempt}` });
  }
}

export async function enqueueAdvance(boss: PgBoss, tx: TTx, roundId: number | null): Promise<void> {
  if (roundId) await boss.send(jobs.roundAdvance.name, { roundId }, { db: inTransaction(tx) });
}

export async function enqueuePoll(boss: PgBoss, tx: TTx | null, runId: number, seconds: number): Promise<void> {
  const options: PgBoss.SendOptions = { startAfter: new Date(Date.now() + seconds * 1000) };
  if (tx) options.db = inTransaction(tx);
  await boss.send(jobs.runPoll.name, { runId }, options);
}
