import { randomUUID } from 'node:crypto';
import { initTRPC, TRPCError } from '@trpc/server';
import type PgBoss from 'pg-boss';
import superjson from 'superjson';
import { z } from 'zod';
import { DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '@/db/availability';
import type { TDbHandle } from '@/db/client';
import type { TArtifactStore } from './artifacts/store';
import type { TRateLimit } from './env';
import { AppError, isAppError, type TAppErrorCode } from './errors';
import { clientErrorFromPostgres, loggableError } from './postgres-errors';
import { configuredLimit, enforceRateLimit, type TRateLimitName } from './limits/rate-limit';
import type { TRole, TSessionUser } from './users/schemas';
import { issuePath, unstorableText } from './validation';
import { auditTarget, projectIdOf, recordAudit } from './audit/audit';
import { requireProjectAccess } from './auth/access';

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

/**
 * Who may call a procedure. Every procedure has one, set by the builder it starts from
 * (publicProcedure, authedProcedure, adminProcedure, projectProcedure) or by `.meta()` for
 * procedures whose project comes from the resource they name; the authorization-matrix test
 * reads it from the router and checks it against every role, so a procedure without a
 * decision fails that test.
 */
export type TAccess =
  | { kind: 'public' }
  /** Any signed-in user; the procedure returns or changes only what is theirs. */
  | { kind: 'signed-in' }
  | { kind: 'platform-admin' }
  /** Members of the project named by the `project` input with one of these roles (platform admins always). */
  | { kind: 'project'; roles: readonly TRole[] }
  /** The project is that of the resource the input names (a dataset version, a round, an annotator's handle), checked in the procedure. */
  | { kind: 'resource'; roles: readonly TRole[]; resource: string };

export interface TMeta {
  /** Always present: the builders set it (meta objects merge, so `.meta({ audit })` keeps it). */
  access?: TAccess;
  /** Admin actions: the audit log's action name, and how to read the state before the change. */
  audit?: { action: string; before?: (db: TDbHandle, input: Record<string, unknown>) => Promise<unknown> };
}

const t = initTRPC.context<TContext>().meta<TMeta>().create({
  transformer: superjson,
  errorFormatter({ shape, error }) {
    // Only deliberate errors reach clients with their message; the rest get an id to find in the log.
    if (error.code === 'INTERNAL_SERVER_ERROR') {
      const logId = randomUUID().slice(0, 8);
      console.error(`[trpc] internal error ${logId}:`, loggableError(error.cause ?? error));
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
  // Data PostgreSQL refused that validation let through (a duplicate name, a value out of range): the client's 4xx.
  const refused = result.ok ? null : clientErrorFromPostgres(result.error.cause);
  if (refused) throw new TRPCError({ code: trpcCodes[refused.code], message: refused.message, cause: refused });
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

/**
 * Admin actions (procedures with `meta.audit`) are recorded once they succeeded: who, what,
 * when, the project, and the state before and after (secrets removed; see server/audit).
 */
const auditAdminActions = t.middleware(async ({ ctx, meta, type, getRawInput, next }) => {
  if (type !== 'mutation' || !meta?.audit || !ctx.user) return next();
  const raw = await getRawInput();
  const input = raw && typeof raw === 'object' ? (raw as Record<string, unknown>) : {};
  // The input is not validated yet (this runs first): a loader that cannot make sense of it records nothing.
  const { before: loadBefore } = meta.audit;
  const before = loadBefore ? await Promise.resolve().then(() => loadBefore(ctx.db, input)).catch(() => null) : undefined;
  const result = await next();
  if (result.ok) {
    const projectId = typeof input.project === 'string' ? await projectIdOf(ctx.db.db, input.project) : null;
    await recordAudit(ctx.db.db, { user: ctx.user, via: 'web' }, { action: meta.audit.action, projectId, target: auditTarget(input), before, after: { input, result: result.data } });
  }
  return result;
});

export const router = t.router;
export const createCallerFactory = t.createCallerFactory;
export const publicProcedure = t.procedure.meta({ access: { kind: 'public' } }).use(mapAppErrors).use(refuseUnstorableText).use(auditAdminActions);

export const authedProcedure = publicProcedure.meta({ access: { kind: 'signed-in' } }).use(({ ctx, next }) => {
  if (!ctx.user) throw new TRPCError({ code: 'UNAUTHORIZED', message: 'sign in first' });
  return next({ ctx: { ...ctx, user: ctx.user } });
});

/** Platform admins only. */
export const adminProcedure = authedProcedure.meta({ access: { kind: 'platform-admin' } }).use(({ ctx, next }) => {
  if (ctx.user.role !== 'admin') throw new TRPCError({ code: 'FORBIDDEN', message: 'this needs the admin role' });
  return next();
});

export const ZProjectRef = z.object({ project: z.string().min(1).max(200) });

/**
 * Project-scoped procedures: the `project` input (a slug) is resolved and the caller's role in
 * it checked here, once for all of them, before the procedure runs; outsiders get NOT_FOUND,
 * members with another role FORBIDDEN. The procedure finds the project in `ctx.project`.
 */
export function projectProcedure(roles: readonly TRole[]) {
  return authedProcedure
    .meta({ access: { kind: 'project', roles } })
    .input(ZProjectRef)
    .use(async ({ ctx, input, next }) => {
      const access = await requireProjectAccess(ctx.db.db, ctx.user, input.project, roles);
      return next({ ctx: { ...ctx, project: access.project, projectRole: access.role } });
    });
}

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
