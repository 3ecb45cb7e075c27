import { jobs } from '@/server/jobs/queue';
import { requireRun } from '@/server/rounds/rounds';
import { runEvalStage, runRegisterStage } from '@/server/rounds/stages';
import { requireBoss, type TRoundJobDeps } from './round-deps';

/** The worker-side stages of a round that this module runs itself: evaluation and registration. */
export const roundStageJob = {
  ...jobs.roundStage,
  async handle(deps: TRoundJobDeps, payload: { runId: number }) {
    const run = await requireRun(deps.db.db, payload.runId);
    const boss = requireBoss(deps);
    if (run.kind === 'eval') return runEvalStage(deps.db, boss, deps.store, run.id);
    if (run.kind === 'register') return runRegisterStage(deps.db, boss, run.id);
    throw new Error(`run ${run.id} is a ${run.kind} run: not a round-stage job`);
  },
};
