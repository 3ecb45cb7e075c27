import { z } from 'zod';
import { adminProcedure, router } from '../trpc';
import { ZRoundPlan } from './plan';
import { cancelRound, getRound, launchRound, listRounds, previewRound, retryStage } from './rounds';

const id = z.number().int().positive();

export const ZLaunchRound = z.object({
  name: z.string().trim().min(1, 'must not be empty').max(200),
  policyModelId: id,
  datasetVersionId: id,
  executorId: id,
  projectId: id.nullish(),
  plan: ZRoundPlan,
});

const ZRoundRef = z.object({ round: id });

/** Training rounds (platform admins): preview the exact configs, launch, follow, cancel, retry. */
export const roundsRouter = router({
  preview: adminProcedure.input(ZLaunchRound).query(({ ctx, input }) => previewRound(ctx.db.db, ctx.store, input)),

  launch: adminProcedure.meta({ audit: { action: 'round.launch' } }).input(ZLaunchRound).mutation(async ({ ctx, input }) => launchRound(ctx.db, await ctx.queue(), ctx.store, { ...input, createdBy: ctx.user.id })),

  list: adminProcedure.query(({ ctx }) => listRounds(ctx.db.db)),

  get: adminProcedure.input(ZRoundRef.extend({ logTailBytes: z.number().int().min(0).max(1_000_000).optional() })).query(({ ctx, input }) => getRound(ctx.db.db, ctx.store, input.round, { logTailBytes: input.logTailBytes })),

  cancel: adminProcedure.meta({ audit: { action: 'round.cancel' } }).input(ZRoundRef).mutation(async ({ ctx, input }) => cancelRound(ctx.db, await ctx.queue(), input.round)),

  retry: adminProcedure
    .meta({ audit: { action: 'round.retry' } })
    .input(ZRoundRef.extend({ gateOverrideReason: z.string().trim().min(1).max(2000).optional() }))
    .mutation(async ({ ctx, input }) => retryStage(ctx.db, await ctx.queue(), input.round, { gateOverrideReason: input.gateOverrideReason, by: ctx.user.id })),
});
