import { z } from 'zod';
import { ANY_MEMBER, PROJECT_ADMIN, requireProjectAccess } from '../auth/access';
import { authedProcedure, rateLimited, router } from '../trpc';
import { annotatorStats, anomalyThresholds, ownStats } from './annotator-stats';

const ZProjectRef = z.object({ project: z.string().min(1) });

export const annotatorsRouter = router({
  /**
   * The signed-in member's own figures in the project; never anyone else's. Gold accuracy and
   * agreement are left out (see ownStats): they are for the project's admins.
   */
  mine: authedProcedure.input(ZProjectRef).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER);
    const [mine] = await annotatorStats(ctx.db, project.id, { annotatorId: ctx.user.id });
    return { stats: ownStats(mine!), thresholds: anomalyThresholds };
  }),

  /** Every annotator of the project with their email, for the project's admins. */
  all: authedProcedure.use(rateLimited('stats')).input(ZProjectRef).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return { annotators: await annotatorStats(ctx.db, project.id), thresholds: anomalyThresholds };
  }),
});
