import { jobs } from '@/server/jobs/queue';
import { advanceRound } from '@/server/rounds/rounds';
import { requireBoss, type TRoundJobDeps } from './round-deps';

/** Moves a round to its next stage when the current one succeeded, or ends it. */
export const roundAdvanceJob = {
  ...jobs.roundAdvance,
  handle(deps: TRoundJobDeps, payload: { roundId: number }) {
    return advanceRound(deps.db, requireBoss(deps), deps.store, payload.roundId);
  },
};
