import { ANY_MEMBER, PROJECT_ADMIN } from '../auth/access';
import { projectProcedure, rateLimited, router } from '../trpc';
import { annotatorStats, anomalyThresholds, ownStats } from './annotator-stats';

export const annotatorsRouter = router({
  /**
   * The signed-in member's own figures in the project; never anyone else's. Gold accuracy and
   * agreement are left out (see ownStats): they are for the project's admins.
   */
  mine: projectProcedure(ANY_MEMBER).query(async ({ ctx }) => {
    const [mine] = await annotatorStats(ctx.db, ctx.project.id, { annotatorId: ctx.user.id });
    return { stats: ownStats(mine!), thresholds: anomalyThresholds };
  }),

  /** Every annotator of the project with their email, for the project's admins. */
  all: projectProcedure(PROJECT_ADMIN).use(rateLimited('stats')).query(async ({ ctx }) => {
    return { annotators: await annotatorStats(ctx.db, ctx.project.id), thresholds: anomalyThresholds };
  }),
});
