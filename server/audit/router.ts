import { z } from 'zod';
import { auditEvents } from '@/db/schema';
import { adminProcedure, router } from '../trpc';
import { listAuditEvents, resolveAuditFilters } from './audit';

export const ZAuditFilters = z.object({
  action: z.string().min(1).max(200).optional(),
  project: z.string().min(1).max(200).optional(),
  actor: z.string().min(1).max(320).optional(),
});

/** The audit log: platform admins only (it names every admin's actions in every project). */
export const auditRouter = router({
  list: adminProcedure
    // `cursor`: the previous page's nextBefore (tRPC's name for it, so pages work with useInfiniteQuery).
    .input(ZAuditFilters.extend({ cursor: z.number().int().positive().nullish(), limit: z.number().int().min(1).max(500).default(100) }))
    .query(async ({ ctx, input }) => {
      const { db } = ctx.db;
      return listAuditEvents(db, { ...(await resolveAuditFilters(db, input)), before: input.cursor ?? undefined, limit: input.limit });
    }),

  /** The actions recorded so far, for the filter. */
  actions: adminProcedure.query(async ({ ctx }) =>
    (await ctx.db.db.selectDistinct({ action: auditEvents.action }).from(auditEvents).orderBy(auditEvents.action)).map((r) => r.action),
  ),
});
