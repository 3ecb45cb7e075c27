import { PROJECT_ADMIN } from '../auth/access';
import { projectProcedure, rateLimited, router } from '../trpc';
import { getDataStats } from './data-stats';
import { requestTokenCount } from './token-counts';

export const dataStatsRouter = router({
  /** Llama 3's preference-data table for a project, with how much is still uncounted. */
  get: projectProcedure(PROJECT_ADMIN).use(rateLimited('stats')).query(async ({ ctx }) => {
    return getDataStats(ctx.db.db, ctx.project.id);
  }),

  /** Queues the count-tokens job (it fills only what is still uncounted). */
  countTokens: projectProcedure(PROJECT_ADMIN).use(rateLimited('stats')).mutation(async ({ ctx }) => {
    return { jobId: await requestTokenCount(await ctx.queue(), ctx.project.id) };
  }),
});
