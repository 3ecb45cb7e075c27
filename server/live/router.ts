import { z } from 'zod';
import { ANY_MEMBER } from '../auth/access';
import { toAnnotatorItem } from '../annotation/handles';
import { authedProcedure, projectProcedure, rateLimited, router } from '../trpc';
import { finalizeTurn } from './finalize-turn';
import { ZUserMessage } from './schemas';
import { getLiveSession } from './session';
import { startTurn } from './turns';

/**
 * Live generation for annotators. The answers themselves stream from the route
 * app/api/live/turns/[turn]/stream; judging goes through annotation.submit like any comparison.
 */
export const liveRouter = router({
  session: projectProcedure(ANY_MEMBER).query(async ({ ctx }) => {
    return getLiveSession(ctx.db.db, { projectId: ctx.project.id, annotatorId: ctx.user.id });
  }),

  startTurn: projectProcedure(ANY_MEMBER)
    .use(rateLimited('live-turns'))
    .input(z.object({ message: ZUserMessage, parentTurnId: z.number().int().positive().optional() }))
    .mutation(async ({ ctx, input }) => {
      return startTurn(ctx.db.db, { projectId: ctx.project.id, annotatorId: ctx.user.id, userMessage: input.message, parentTurnId: input.parentTurnId });
    }),

  // The turn must be the annotator's own (their live session's): another's is NOT_FOUND.
  finalizeTurn: authedProcedure
    .meta({ access: { kind: 'resource', roles: ANY_MEMBER, resource: 'own live turn' } })
    .input(z.object({ turnId: z.number().int().positive() }))
    .mutation(async ({ ctx, input }) => toAnnotatorItem(await finalizeTurn(ctx.db.db, { turnId: input.turnId, annotatorId: ctx.user.id }), ctx.user.id)),
});
