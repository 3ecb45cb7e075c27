import { z } from 'zod';
import type { TRole } from '../users/schemas';
import { PROJECT_ADMIN } from '../auth/access';
import { projectProcedure, router } from '../trpc';
import { consensusForProject, listConflicts } from './consensus';
import { ZReviewFields } from './review-schemas';
import { reviewQueue, reviewStats, submitReview } from './reviews';

/** Who may review: the project's reviewers and admins (platform admins are admins everywhere). */
const REVIEWERS: readonly TRole[] = ['admin', 'reviewer'];

export const reviewsRouter = router({
  /** The reviewer's queue: flagged, conflicting and sampled judgments of others, not yet reviewed. */
  queue: projectProcedure(REVIEWERS).input(z.object({ limit: z.number().int().min(1).max(100).default(20) })).query(async ({ ctx, input }) => {
    return reviewQueue(ctx.db.db, { projectId: ctx.project.id, reviewerId: ctx.user.id, limit: input.limit });
  }),

  submit: projectProcedure(REVIEWERS).input(ZReviewFields).mutation(async ({ ctx, input }) => {
    const { project: _slug, ...review } = input;
    return submitReview(ctx.db.db, { ...review, projectId: ctx.project.id, reviewerId: ctx.user.id });
  }),

  /** Reviewer decisions and rates, the queue's size, annotators' review outcomes. */
  stats: projectProcedure(PROJECT_ADMIN).query(async ({ ctx }) => {
    return reviewStats(ctx.db.db, ctx.project.id);
  }),

  consensus: projectProcedure(PROJECT_ADMIN)
    .input(
      z.object({
        weighting: z.enum(['majority', 'trust']).default('majority'),
        limit: z.number().int().min(1).max(1000).default(100),
        cursor: z.number().int().min(0).nullish(),
      }),
    )
    .query(async ({ ctx, input }) => {
      return consensusForProject(ctx.db.db, ctx.project.id, { weighting: input.weighting, limit: input.limit, cursor: input.cursor });
    }),

  conflicts: projectProcedure(PROJECT_ADMIN).input(z.object({ limit: z.number().int().min(1).max(1000).default(100) })).query(async ({ ctx, input }) => {
    return listConflicts(ctx.db.db, ctx.project.id, { limit: input.limit });
  }),
});
