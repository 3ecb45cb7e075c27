import { adminProcedure, router } from '../trpc';
import { createExecutor, deleteExecutor, getExecutor, listExecutors, testExecutorConnection, updateExecutor } from './executors';
import { ZCreateExecutor, ZExecutorRef, ZUpdateExecutor } from './schemas';

/** Where GPU work runs (local process, Ray, Kubernetes): platform admins only. */
export const executorsRouter = router({
  list: adminProcedure.query(({ ctx }) => listExecutors(ctx.db.db)),
  get: adminProcedure.input(ZExecutorRef).query(({ ctx, input }) => getExecutor(ctx.db.db, input.id)),
  create: adminProcedure.meta({ audit: { action: 'executor.create' } }).input(ZCreateExecutor).mutation(({ ctx, input }) => createExecutor(ctx.db.db, input)),
  update: adminProcedure.meta({ audit: { action: 'executor.update', before: ({ db }, input) => getExecutor(db, Number(input.id)) } }).input(ZUpdateExecutor).mutation(({ ctx, input }) => updateExecutor(ctx.db.db, input)),
  delete: adminProcedure.meta({ audit: { action: 'executor.delete', before: ({ db }, input) => getExecutor(db, Number(input.id)) } }).input(ZExecutorRef).mutation(({ ctx, input }) => deleteExecutor(ctx.db.db, input.id)),
  testConnection: adminProcedure.input(ZExecutorRef).mutation(({ ctx, input }) => testExecutorConnection(ctx.db.db, input.id)),
});
