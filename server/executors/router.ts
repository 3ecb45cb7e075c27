import { adminProcedure, router } from '../trpc';
import { createExecutor, deleteExecutor, getExecutor, listExecutors, testExecutorConnection, updateExecutor } from './executors';
import { ZCreateExecutor, ZExecutorRef, ZUpdateExecutor } from './schemas';
import { executorRuns, executorUsage, ZExecutorRunsPage } from './usage';

/** Where GPU work runs (local process, Ray, Kubernetes): platform admins only. */
export const executorsRouter = router({
  list: adminProcedure.query(({ ctx }) => listExecutors(ctx.db.db)),
  get: adminProcedure.input(ZExecutorRef).query(({ ctx, input }) => getExecutor(ctx.db.db, input.id)),
  create: adminProcedure.meta({ audit: { action: 'executor.create' } }).input(ZCreateExecutor).mutation(({ ctx, input }) => createExecutor(ctx.db.db, input)),
  update: adminProcedure.meta({ audit: { action: 'executor.update', before: ({ db }, input) => getExecutor(db, Number(input.id)) } }).input(ZUpdateExecutor).mutation(({ ctx, input }) => updateExecutor(ctx.db.db, input)),
  delete: adminProcedure.meta({ audit: { action: 'executor.delete', before: ({ db }, input) => getExecutor(db, Number(input.id)) } }).input(ZExecutorRef).mutation(({ ctx, input }) => deleteExecutor(ctx.db.db, input.id)),
  /** GPU-hours (7 days, 30 days, all time) and runs by status, per executor. */
  usage: adminProcedure.query(({ ctx }) => executorUsage(ctx.db.db)),
  /** One executor's runs, newest first, a page at a time. */
  recentRuns: adminProcedure.input(ZExecutorRunsPage).query(({ ctx, input }) => executorRuns(ctx.db.db, input)),
  testConnection: adminProcedure.input(ZExecutorRef).mutation(({ ctx, input }) => testExecutorConnection(ctx.db.db, input.id)),
});
