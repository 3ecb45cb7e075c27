import { z } from 'zod';
import { ANY_MEMBER, requireProjectAccess } from '../auth/access';
import { authedProcedure, router } from '../trpc';
import { isPausedByGold } from '../quality/gold';
import { leaseComparisons } from './lease';
import { getGuidelinesForUser, markGuidelinesRead } from '../guidelines/guidelines';
import { listRecentJudgments } from './history';
import { getAnnotatorProgress } from './progress';
import { requireAssignmentOfHandle, assignmentHandle, toAnnotatorItem } from './handles';
import { ZLeaseInput, ZSkipByHandle, ZSubmitByHandle } from './schemas';
import { skipAssignment } from './skip';
import { submitJudgment } from './submit-judgment';

export const annotationRouter = router({
  /**
   * The annotator's current comparison and the next one, leased. Empty when all is done.
   * Items carry handles, never comparison or assignment ids; submit and skip take them back.
   */
  lease: authedProcedure.input(ZLeaseInput).mutation(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER);
    if (await isPausedByGold(ctx.db.db, { projectId: project.id, annotatorId: ctx.user.id })) return { items: [], paused: true };
    const items = await leaseComparisons(ctx.db.db, {
      projectId: project.id,
      annotatorId: ctx.user.id,
      leaseSeconds: project.leaseSeconds,
      want: input.want,
      goldRate: project.goldRate,
    });
    return { items: items.map((item) => toAnnotatorItem(item, ctx.user.id)), paused: false };
  }),

  submit: authedProcedure.input(ZSubmitByHandle).mutation(async ({ ctx, input }) => {
    const { handle, ...verdict } = input;
    const assignmentId = requireAssignmentOfHandle(handle, ctx.user.id);
    return submitJudgment(ctx.db.db, { ...verdict, assignmentId, annotatorId: ctx.user.id });
  }),

  skip: authedProcedure.input(ZSkipByHandle).mutation(({ ctx, input }) =>
    skipAssignment(ctx.db.db, { reason: input.reason, assignmentId: requireAssignmentOfHandle(input.handle, ctx.user.id), annotatorId: ctx.user.id }),
  ),

  /** The annotator's own recent judgments (read-only). */
  history: authedProcedure.input(z.object({ project: z.string().min(1), limit: z.number().int().min(1).max(50).default(10) })).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER);
    const items = await listRecentJudgments(ctx.db.db, { projectId: project.id, annotatorId: ctx.user.id, limit: input.limit });
    return items.map(({ judgmentId: _judgmentId, assignmentId, ...rest }) => ({ handle: assignmentHandle(assignmentId, ctx.user.id), ...rest }));
  }),

  guidelines: authedProcedure.input(z.object({ project: z.string().min(1) })).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER);
    return getGuidelinesForUser(ctx.db.db, { projectId: project.id, userId: ctx.user.id });
  }),

  markGuidelinesRead: authedProcedure
    .input(z.object({ project: z.string().min(1), version: z.number().int().positive() }))
    .mutation(async ({ ctx, input }) => {
      const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER);
      await markGuidelinesRead(ctx.db.db, { projectId: project.id, userId: ctx.user.id, version: input.version });
      return { ok: true as const };
    }),

  progress: authedProcedure.input(z.object({ project: z.string().min(1) })).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER);
    return getAnnotatorProgress(ctx.db.db, { projectId: project.id, annotatorId: ctx.user.id });
  }),
});
