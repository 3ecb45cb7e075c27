import { z } from 'zod';
import { PROJECT_ADMIN, requireProjectAccess } from '../auth/access';
import { authedProcedure, rateLimited, router } from '../trpc';
import { exportFormats } from '../formats/preference-formats';
import { listExports, requestExport } from './exports';

const ZProjectRef = z.object({ project: z.string().min(1) });

export const exportsRouter = router({
  list: authedProcedure.input(ZProjectRef).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return listExports(ctx.db.db, project.id);
  }),

  request: authedProcedure.use(rateLimited('exports')).input(ZProjectRef.extend({ format: z.enum(exportFormats).default('trl') })).mutation(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return requestExport(ctx.db, await ctx.queue(), { projectId: project.id, requestedBy: ctx.user.id, format: input.format });
  }),
});
