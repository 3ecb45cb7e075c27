import { jobs } from '@/server/jobs/queue';
import { requireRun, submitRun } from '@/server/rounds/rounds';
import { requireBoss, resolveExecutor, type TRoundJobDeps } from './round-deps';

/** Builds a training run's inputs, submits it to its executor, records the external id and schedules the first poll. */
export const runSubmitJob = {
  ...jobs.runSubmit,
  async handle(deps: TRoundJobDeps, payload: { runId: number }) {
    const run = await requireRun(deps.db.db, payload.runId);
    if (run.status !== 'pending') return { status: run.status };
    const executor = await resolveExecutor(deps, run.executorId);
    if (!executor) throw new Error(`run ${run.id} has no executor`);
    return submitRun(deps.db, requireBoss(deps), deps.store, executor, run.id, { pollSeconds: deps.pollSeconds });
  },
};
