import { z } from 'zod';
import type { TRole } from '../users/schemas';
import { PROJECT_ADMIN, requireProjectAccess } from '../auth/access';
import { authedProcedure, router } from '../trpc';
import { consensusForProject, listConflicts } from './consensus';
import { ZReviewFields } from './review-schemas';
import { reviewQueue, reviewStats, submitReview } from './reviews';

/** Who may review: the project's reviewers and admins (platform admins are admins everywhere). */
const REVIEWERS: readonly TRole[] = ['admin', 'reviewer'];
const ZProject = z.object({ project: z.string().min(1) });

export const reviewsRouter = router({
  /** The reviewer's queue: flagged, conflicting and sampled judgments of others, not yet reviewed. */
  queue: authedProcedure.input(ZProject.extend({ limit: z.number().int().min(1).max(100).default(20) })).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, REVIEWERS);
    return reviewQueue(ctx.db.db, { projectId: project.id, reviewerId: ctx.user.id, limit: input.limit });
  }),

  submit: authedProcedure.input(ZReviewFields.extend({ project: z.string().min(1) })).mutation(async ({ ctx, input }) => {
    const { project: slug, ...review } = input;
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, slug, REVIEWERS);
    return submitReview(ctx.db.db, { ...review, projectId: project.id, reviewerId: ctx.user.id });
  }),

  /** Reviewer decisions and rates, the queue's size, annotators' review outcomes. */
  stats: authedProcedure.input(ZProject).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return reviewStats(ctx.db.db, project.id);
  }),

  consensus: authedProcedure
    .input(
      ZProject.extend({
        weighting: z.enum(['majority', 'trust']).default('majority'),
        limit: z.number().int().min(1).max(1000).default(100),
        cursor: z.number().int().min(0).nullish(),
      }),
    )
    .query(async ({ ctx, input }) => {
      const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
      return consensusForProject(ctx.db.db, project.id, { weighting: input.weighting, limit: input.limit, cursor: input.cursor });
    }),

  conflicts: authedProcedure.input(ZProject.extend({ limit: z.number().int().min(1).max(1000).default(100) })).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, PROJECT_ADMIN);
    return listConflicts(ctx.db.db, project.id, { limit: input.limit });
  }),
});
