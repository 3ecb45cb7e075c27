import { authedProcedure, router } from '../trpc';
import { createApiToken, listApiTokens, revokeApiToken } from './api-tokens';
import { ZApiTokenRef, ZCreateApiToken } from './schemas';

/** API tokens for scripts. Who may do what is decided in the services (project admin rights). */
export const apiTokensRouter = router({
  list: authedProcedure.query(({ ctx }) => listApiTokens(ctx.db.db, { user: ctx.user })),
  create: authedProcedure.input(ZCreateApiToken).mutation(({ ctx, input }) => createApiToken(ctx.db.db, ctx.user, input)),
  revoke: authedProcedure.input(ZApiTokenRef).mutation(({ ctx, input }) => revokeApiToken(ctx.db.db, ctx.user, input.id)),
});
