import { jobs } from '@/server/jobs/queue';
import { pollRun, requireRun } from '@/server/rounds/rounds';
import { requireBoss, resolveExecutor, type TRoundJobDeps } from './round-deps';

/** One look at a run: executor state, log tail, trainer metrics, GPU time; re-schedules itself while the run is active. */
export const runPollJob = {
  ...jobs.runPoll,
  async handle(deps: TRoundJobDeps, payload: { runId: number }) {
    const run = await requireRun(deps.db.db, payload.runId);
    const active = run.status === 'pending' || run.status === 'submitted' || run.status === 'running';
    const executor = active ? await resolveExecutor(deps, run.executorId) : null;
    return pollRun(deps.db, requireBoss(deps), deps.store, executor, run.id, { pollSeconds: deps.pollSeconds });
  },
};
