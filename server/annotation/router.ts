import { z } from 'zod';
import { ANY_MEMBER, requireProjectAccess } from '../auth/access';
import { authedProcedure, router } from '../trpc';
import { leaseComparisons } from './lease';
import { getAnnotatorProgress } from './progress';
import { ZLeaseInput, ZSubmitJudgment } from './schemas';
import { submitJudgment } from './submit-judgment';

export const annotationRouter = router({
  /** The annotator's current comparison and the next one, leased. Empty when all is done. */
  lease: authedProcedure.input(ZLeaseInput).mutation(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER);
    const items = await leaseComparisons(ctx.db.db, {
      projectId: project.id,
      annotatorId: ctx.user.id,
      leaseSeconds: project.leaseSeconds,
      want: input.want,
    });
    return { items };
  }),

  submit: authedProcedure.input(ZSubmitJudgment).mutation(({ ctx, input }) => submitJudgment(ctx.db.db, { ...input, annotatorId: ctx.user.id })),

  progress: authedProcedure.input(z.object({ project: z.string().min(1) })).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER);
    return getAnnotatorProgress(ctx.db.db, { projectId: project.id, annotatorId: ctx.user.id });
  }),
});
