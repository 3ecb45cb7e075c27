import { z } from 'zod';
import type { TDbHandle } from '@/db/client';
import { PROJECT_ADMIN } from '../auth/access';
import { ZStrength } from '../annotation/schemas';
import { projectProcedure, rateLimited, router } from '../trpc';
import { goldOf, markGold, unmarkGold } from './gold';
import { getProjectStats, projectLeaderboard } from './project-stats';

/** The comparison's gold answer before a change, for the audit log. */
const goldBefore = ({ db }: TDbHandle, input: Record<string, unknown>) => goldOf(db, Number(input.comparisonId));

export const qualityRouter = router({
  /** The project dashboard: counts, agreement with intervals, gold accuracy, leaderboard. */
  dashboard: projectProcedure(PROJECT_ADMIN).use(rateLimited('stats')).query(async ({ ctx }) => {
    return getProjectStats(ctx.db, ctx.project.id);
  }),

  leaderboard: projectProcedure(PROJECT_ADMIN).use(rateLimited('stats')).input(z.object({ round: z.string().max(100).optional() })).query(async ({ ctx, input }) => {
    return projectLeaderboard(ctx.db, ctx.project.id, { round: input.round });
  }),

  markGold: projectProcedure(PROJECT_ADMIN)
    .meta({ audit: { action: 'gold.mark', before: goldBefore } })
    .input(z.object({ comparisonId: z.number().int().positive(), choice: z.number().int().min(0).max(1), minStrength: ZStrength.nullable().optional() }))
    .mutation(async ({ ctx, input }) => {
      await markGold(ctx.db.db, { projectId: ctx.project.id, comparisonId: input.comparisonId, choice: input.choice, minStrength: input.minStrength });
      return { ok: true as const };
    }),

  unmarkGold: projectProcedure(PROJECT_ADMIN)
    .meta({ audit: { action: 'gold.unmark', before: goldBefore } })
    .input(z.object({ comparisonId: z.number().int().positive() }))
    .mutation(async ({ ctx, input }) => {
    await unmarkGold(ctx.db.db, { projectId: ctx.project.id, comparisonId: input.comparisonId });
    return { ok: true as const };
  }),
});
