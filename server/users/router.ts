import { z } from 'zod';
import { adminProcedure, authedProcedure, router } from '../trpc';
import { disableUser, enableUser, listUsers, revokeSessions } from './account-status';

const ZUserRef = z.object({ userId: z.number().int().positive() });

export const usersRouter = router({
  list: adminProcedure.query(({ ctx }) => listUsers(ctx.db.db)),

  disable: adminProcedure.meta({ audit: { action: 'user.disable' } }).input(ZUserRef).mutation(({ ctx, input }) => disableUser(ctx.db.db, input.userId)),

  enable: adminProcedure.meta({ audit: { action: 'user.enable' } }).input(ZUserRef).mutation(({ ctx, input }) => enableUser(ctx.db.db, input.userId)),

  /** Ends every session of a user (admins, e.g. for a lost laptop). */
  revokeSessions: adminProcedure.meta({ audit: { action: 'user.revoke-sessions' } }).input(ZUserRef).mutation(async ({ ctx, input }) => {
    await revokeSessions(ctx.db.db, input.userId);
    return { ok: true as const };
  }),

  /** The signed-in user ends all of their own sessions, this one included. */
  signOutEverywhere: authedProcedure.mutation(async ({ ctx }) => {
    await revokeSessions(ctx.db.db, ctx.user.id);
    return { ok: true as const };
  }),
});
