import { z } from 'zod';
import { ANY_MEMBER, requireProjectAccess } from '../auth/access';
import { toAnnotatorItem } from '../annotation/handles';
import { authedProcedure, rateLimited, router } from '../trpc';
import { finalizeTurn } from './finalize-turn';
import { ZUserMessage } from './schemas';
import { getLiveSession } from './session';
import { startTurn } from './turns';

const ZProjectRef = z.object({ project: z.string().min(1) });

/**
 * Live generation for annotators. The answers themselves stream from the route
 * app/api/live/turns/[turn]/stream; judging goes through annotation.submit like any comparison.
 */
export const liveRouter = router({
  session: authedProcedure.input(ZProjectRef).query(async ({ ctx, input }) => {
    const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER);
    return getLiveSession(ctx.db.db, { projectId: project.id, annotatorId: ctx.user.id });
  }),

  startTurn: authedProcedure
    .use(rateLimited('live-turns'))
    .input(ZProjectRef.extend({ message: ZUserMessage, parentTurnId: z.number().int().positive().optional() }))
    .mutation(async ({ ctx, input }) => {
      const { project } = await requireProjectAccess(ctx.db.db, ctx.user, input.project, ANY_MEMBER);
      return startTurn(ctx.db.db, { projectId: project.id, annotatorId: ctx.user.id, userMessage: input.message, parentTurnId: input.parentTurnId });
    }),

  finalizeTurn: authedProcedure
    .input(z.object({ turnId: z.number().int().positive() }))
    .mutation(async ({ ctx, input }) => toAnnotatorItem(await finalizeTurn(ctx.db.db, { turnId: input.turnId, annotatorId: ctx.user.id }), ctx.user.id)),
});
