import { z } from 'zod';
import { PROJECT_ADMIN } from '../auth/access';
import { projectProcedure, rateLimited, router } from '../trpc';
import { exportFormats } from '../formats/preference-formats';
import { listExports, requestExport } from './exports';

export const exportsRouter = router({
  list: projectProcedure(PROJECT_ADMIN).query(async ({ ctx }) => {
    return listExports(ctx.db.db, ctx.project.id);
  }),

  request: projectProcedure(PROJECT_ADMIN)
    .use(rateLimited('exports'))
    .meta({ audit: { action: 'export.request' } })
    .input(z.object({ format: z.enum(exportFormats).default('trl') }))
    .mutation(async ({ ctx, input }) => {
    return requestExport(ctx.db, await ctx.queue(), { projectId: ctx.project.id, requestedBy: ctx.user.id, format: input.format });
  }),
});
