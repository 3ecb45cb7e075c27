import { PROJECT_ADMIN } from '../auth/access';
import { authedProcedure, router } from '../trpc';
import { createApiToken, listApiTokens, revokeApiToken } from './api-tokens';
import { ZApiTokenRef, ZCreateApiToken } from './schemas';

/** API tokens for scripts. Who may do what is decided in the services (project admin rights). */
export const apiTokensRouter = router({
  list: authedProcedure.query(({ ctx }) => listApiTokens(ctx.db.db, { user: ctx.user })),
  // Each project the token names must be one the creator administers (checked in createApiToken).
  create: authedProcedure
    .meta({ access: { kind: 'resource', roles: PROJECT_ADMIN, resource: "the token's projects" }, audit: { action: 'token.create' } })
    .input(ZCreateApiToken).mutation(({ ctx, input }) => createApiToken(ctx.db.db, ctx.user, input)),
  // Their own tokens for project admins, any token for platform admins (checked in revokeApiToken).
  revoke: authedProcedure
    .meta({ access: { kind: 'resource', roles: PROJECT_ADMIN, resource: 'own API token' }, audit: { action: 'token.revoke' } })
    .input(ZApiTokenRef).mutation(({ ctx, input }) => revokeApiToken(ctx.db.db, ctx.user, input.id)),
});
