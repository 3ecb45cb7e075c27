import { z } from 'zod';
import { PROJECT_ADMIN, requireProjectAccess } from '../auth/access';
import { authedProcedure, rateLimited, router } from '../trpc';
import { getDataStats } from './data-stats';
import { requestTokenCount } from './token-counts';

const ZProjectRef = z.object({ project: z.string().min(1) });

export const dataStatsRouter = router({
  /** Llama 3's preference-data table for a project, with how much is still uncounted. */
  get: authedProcedure.use(rateLimited('stats')).input(ZProjectRef).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return getDataStats(ctx.db.db, project.id);
  }),

  /** Queues the count-tokens job (it fills only what is still uncounted). */
  countTokens: authedProcedure.use(rateLimited('stats')).input(ZProjectRef).mutation(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return { jobId: await requestTokenCount(await ctx.queue(), project.id) };
  }),
});
