import { randomUUID } from 'node:crypto';
import { initTRPC, TRPCError } from '@trpc/server';
import type PgBoss from 'pg-boss';
import superjson from 'superjson';
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '@/db/availability';
import type { TDbHandle } from '@/db/client';
import type { TArtifactStore } from './artifacts/store';
import type { TRateLimit } from './env';
import { AppError, isAppError, type TAppErrorCode } from './errors';
import { configuredLimit, enforceRateLimit, type TRateLimitName } from './limits/rate-limit';
import type { TSessionUser } from './users/schemas';
import { issuePath, unstorableText } from './validation';

/** Everything a procedure may use. Built per request by app/api/trpc, and directly by tests. */
export interface TContext {
  db: TDbHandle;
  user: TSessionUser | null;
  queue: () => Promise<PgBoss>;
  store: TArtifactStore;
}

const trpcCodes: Record<TAppErrorCode, TRPCError['code']> = {
  BAD_REQUEST: 'BAD_REQUEST',
  UNAUTHORIZED: 'UNAUTHORIZED',
  FORBIDDEN: 'FORBIDDEN',
  NOT_FOUND: 'NOT_FOUND',
  CONFLICT: 'CONFLICT',
  PAYLOAD_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  TOO_MANY_REQUESTS: 'TOO_MANY_REQUESTS',
};

const t = initTRPC.context<TContext>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    // Only deliberate errors reach clients with their message; the rest get an id to find in the log.
    if (error.code === 'INTERNAL_SERVER_ERROR') {
      const logId = randomUUID().slice(0, 8);
      console.error(`[trpc] internal error ${logId}:`, error.cause ?? error);
      return { ...shape, message: `Internal error (log id ${logId})`, data: { ...shape.data, stack: undefined } };
    }
    // Input rejected by a procedure's zod schema: name the first bad field in plain words.
    const issues = (error.cause as { issues?: { path?: readonly (PropertyKey | { key: PropertyKey })[]; message: string }[] } | undefined)?.issues;
    if (error.code === 'BAD_REQUEST' && Array.isArray(issues) && issues[0]) {
      const field = issuePath((issues[0].path ?? []).map((p) => (typeof p === 'object' ? p.key : p)));
      return { ...shape, message: field ? `${field}: ${issues[0].message}` : issues[0].message, data: { ...shape.data, stack: undefined, field: field || undefined } };
    }
    const field = isAppError(error.cause) ? error.cause.field : undefined;
    return { ...shape, data: { ...shape.data, stack: undefined, field } };
  },
});

const mapAppErrors = t.middleware(async ({ next }) => {
  const result = await next();
  if (!result.ok && isAppError(result.error.cause)) {
    const cause = result.error.cause;
    throw new TRPCError({ code: trpcCodes[cause.code], message: cause.message, cause });
  }
  // The database is away (restarting, unreachable): a 503 to retry, not a 500 that reads as a bug.
  if (!result.ok && isDatabaseUnavailable(result.error.cause)) {
    throw new TRPCError({ code: 'SERVICE_UNAVAILABLE', message: DATABASE_UNAVAILABLE_MESSAGE, cause: result.error.cause });
  }
  return result;
});

/** Text PostgreSQL cannot store is refused for every procedure, naming the field (a 400, never a 500). */
const refuseUnstorableText = t.middleware(async ({ getRawInput, next }) => {
  const found = unstorableText(await getRawInput());
  if (found) {
    const message = found.field ? `${found.field}: ${found.reason}` : found.reason;
    throw new TRPCError({ code: 'BAD_REQUEST', message, cause: new AppError('BAD_REQUEST', message, { field: found.field || undefined }) });
  }
  return next();
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.use(mapAppErrors).use(refuseUnstorableText);

export const authedProcedure = publicProcedure.use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in first' });
  return next({ ctx: { ...ctx, user: ctx.user } });
});

/** Platform admins only (project-level roles are checked per project by requireProjectAccess). */
export const adminProcedure = authedProcedure.use(({ ctx, next }) => {
  if (ctx.user.role !== 'admin') throw new TRPCError({ code: 'FORBIDDEN', message: 'this needs the admin role' });
  return next();
});

/**
 * Counts each call against the signed-in user's share of a named limit (settings
 * PAIRWISE_RATE_LIMIT_*), for procedures that start expensive work; past it, TOO_MANY_REQUESTS
 * saying when to retry (and a Retry-After header over HTTP).
 */
export function rateLimited(name: TRateLimitName, limit?: TRateLimit) {
  return t.middleware(async ({ ctx, next }) => {
    if (ctx.user) await enforceRateLimit(ctx.db.db, name, `user:${ctx.user.id}`, limit ?? configuredLimit(name));
    return next();
  });
}
