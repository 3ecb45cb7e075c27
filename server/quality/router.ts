import { z } from 'zod';
import { PROJECT_ADMIN, requireProjectAccess } from '../auth/access';
import { ZStrength } from '../annotation/schemas';
import { authedProcedure, rateLimited, router } from '../trpc';
import { markGold, unmarkGold } from './gold';
import { getProjectStats, projectLeaderboard } from './project-stats';

const ZProjectRef = z.object({ project: z.string().min(1) });

export const qualityRouter = router({
  /** The project dashboard: counts, agreement with intervals, gold accuracy, leaderboard. */
  dashboard: authedProcedure.use(rateLimited('stats')).input(ZProjectRef).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return getProjectStats(ctx.db, project.id);
  }),

  leaderboard: authedProcedure.use(rateLimited('stats')).input(ZProjectRef.extend({ round: z.string().max(100).optional() })).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return projectLeaderboard(ctx.db, project.id, { round: input.round });
  }),

  markGold: authedProcedure
    .input(ZProjectRef.extend({ comparisonId: z.number().int().positive(), choice: z.number().int().min(0).max(1), minStrength: ZStrength.nullable().optional() }))
    .mutation(async ({ ctx, input }) => {
      const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
      await markGold(ctx.db.db, { projectId: project.id, comparisonId: input.comparisonId, choice: input.choice, minStrength: input.minStrength });
      return { ok: true as const };
    }),

  unmarkGold: authedProcedure.input(ZProjectRef.extend({ comparisonId: z.number().int().positive() })).mutation(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    await unmarkGold(ctx.db.db, { projectId: project.id, comparisonId: input.comparisonId });
    return { ok: true as const };
  }),
});
