import { z } from 'zod';
import { ANY_MEMBER } from '../auth/access';
import { authedProcedure, projectProcedure, router } from '../trpc';
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
  lease: projectProcedure(ANY_MEMBER).input(ZLeaseInput).mutation(async ({ ctx, input }) => {
    const { project } = ctx;
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

  // The handle names the annotator's own assignment: one leased to someone else is NOT_FOUND.
  submit: authedProcedure.meta({ access: { kind: 'resource', roles: ANY_MEMBER, resource: 'own assignment handle' } }).input(ZSubmitByHandle).mutation(async ({ ctx, input }) => {
    const { handle, ...verdict } = input;
    const assignmentId = requireAssignmentOfHandle(handle, ctx.user.id);
    return submitJudgment(ctx.db.db, { ...verdict, assignmentId, annotatorId: ctx.user.id });
  }),

  skip: authedProcedure.meta({ access: { kind: 'resource', roles: ANY_MEMBER, resource: 'own assignment handle' } }).input(ZSkipByHandle).mutation(({ ctx, input }) =>
    skipAssignment(ctx.db.db, { reason: input.reason, assignmentId: requireAssignmentOfHandle(input.handle, ctx.user.id), annotatorId: ctx.user.id }),
  ),

  /** The annotator's own recent judgments (read-only). */
  history: projectProcedure(ANY_MEMBER).input(z.object({ limit: z.number().int().min(1).max(50).default(10) })).query(async ({ ctx, input }) => {
    const { project } = ctx;
    const items = await listRecentJudgments(ctx.db.db, { projectId: project.id, annotatorId: ctx.user.id, limit: input.limit });
    return items.map(({ judgmentId: _judgmentId, assignmentId, ...rest }) => ({ handle: assignmentHandle(assignmentId, ctx.user.id), ...rest }));
  }),

  guidelines: projectProcedure(ANY_MEMBER).query(async ({ ctx }) => {
    return getGuidelinesForUser(ctx.db.db, { projectId: ctx.project.id, userId: ctx.user.id });
  }),

  markGuidelinesRead: projectProcedure(ANY_MEMBER)
    .input(z.object({ version: z.number().int().positive() }))
    .mutation(async ({ ctx, input }) => {
      await markGuidelinesRead(ctx.db.db, { projectId: ctx.project.id, userId: ctx.user.id, version: input.version });
      return { ok: true as const };
    }),

  progress: projectProcedure(ANY_MEMBER).query(async ({ ctx }) => {
    return getAnnotatorProgress(ctx.db.db, { projectId: ctx.project.id, annotatorId: ctx.user.id });
  }),
});
