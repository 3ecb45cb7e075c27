import type PgBoss from 'pg-boss';
import type { z } from 'zod';
import { getDb, type TDbHandle } from '@/db/client';
import { authenticateApiToken, type TApiPrincipal } from '../api-tokens/api-tokens';
import type { TApiTokenAccess } from '../api-tokens/schemas';
import { artifactStore, type TArtifactStore } from '../artifacts/store';
import { AppError } from '../errors';
import { getQueue } from '../jobs/queue';
import { parseInput, requireStorableText } from '../validation';
import { apiErrorResponse, parseJsonBody, queryObject, type TRouteHandler } from './http';

/** What API handlers use: the process's database pool, job queue and artifact store. */
export interface TApiContext {
  db: TDbHandle;
  queue: () => Promise<PgBoss>;
  store: TArtifactStore;
}

function apiContext(): TApiContext {
  return { db: getDb(), queue: () => getQueue(process.env.DATABASE_URL!), store: artifactStore() };
}

/** Runs a handler and turns whatever it throws into the API's JSON error. */
export function withApiErrors(handler: TRouteHandler): TRouteHandler {
  return async (request, context) => {
    try {
      return await handler(request, context);
    } catch (error) {
      return apiErrorResponse(error);
    }
  };
}

/**
 * Authenticates the request's bearer token and checks its access level before the handler
 * runs. Write tokens may also read. Project scope is checked by the handlers, per resource.
 */
export function withApiToken(
  handler: (args: { request: Request; principal: TApiPrincipal; params: Record<string, unknown>; ctx: TApiContext }) => Promise<Response>,
  options: { access: TApiTokenAccess },
): TRouteHandler {
  return withApiErrors(async (request, context) => {
    const ctx = apiContext();
    const principal = await authenticateApiToken(ctx.db.db, request.headers.get('authorization'));
    if (options.access === 'write' && principal.access !== 'write') {
      throw new AppError('FORBIDDEN', 'this token is read-only: the request needs a token with write access', { field: 'authorization' });
    }
    return handler({ request, principal, params: (await context.params) ?? {}, ctx });
  });
}

type TZodObject = z.ZodObject<z.ZodRawShape>;

/** A response an operation documents. `json`: its body schema; `ndjson`: a stream of JSON lines; `parquet`: a Parquet file. */
export interface TResponseSpec {
  description: string;
  json?: z.ZodType;
  ndjson?: boolean;
  parquet?: boolean;
  headers?: Record<string, { description: string; schema: z.ZodType }>;
}

/**
 * One endpoint: what the OpenAPI document says about it, and the schemas its handler validates
 * with (the same objects, so the document cannot drift from what the route accepts).
 */
export interface TOperationSpec<P extends TZodObject | undefined = TZodObject | undefined, Q extends TZodObject | undefined = TZodObject | undefined, B extends z.ZodType | undefined = z.ZodType | undefined> {
  method: 'get' | 'post';
  /** Under /api/v1, with OpenAPI `{param}` placeholders. */
  path: string;
  operationId: string;
  summary: string;
  description?: string;
  tag: string;
  /** `public`: no token needed. */
  access: TApiTokenAccess | 'public';
  params?: P;
  query?: Q;
  /** A JSON body checked with `json`, or a file sent as the raw body. */
  body?: { json: B; description?: string } | { file: { mediaTypes: string[]; description: string } };
  responses: Record<number, TResponseSpec>;
  /** Error statuses besides 401/403 (from access) and 500 (always). */
  errors: (400 | 404 | 409 | 413)[];
}

export interface TApiOperation {
  spec: TOperationSpec;
  handle: TRouteHandler;
}

type TOut<S> = S extends z.ZodType ? z.output<S> : undefined;

/** An authenticated operation: the token, path params, query and JSON body are checked before `handler` runs. */
export function defineOperation<P extends TZodObject | undefined, Q extends TZodObject | undefined, B extends z.ZodType | undefined>(
  spec: TOperationSpec<P, Q, B> & { access: TApiTokenAccess },
  handler: (args: { request: Request; principal: TApiPrincipal; ctx: TApiContext; params: TOut<P>; query: TOut<Q>; body: TOut<B> }) => Promise<Response>,
): TApiOperation {
  const handle = withApiToken(
    async ({ request, principal, params, ctx }) => {
      // Path and query text reaches SQL (slugs, names): NUL and half surrogates are refused here, naming the field.
      requireStorableText(params);
      requireStorableText(queryObject(request));
      const parsedParams = (spec.params ? parseInput(spec.params, params) : undefined) as TOut<P>;
      const query = (spec.query ? parseInput(spec.query, queryObject(request)) : undefined) as TOut<Q>;
      const body = (spec.body && 'json' in spec.body && spec.body.json ? await parseJsonBody(request, spec.body.json) : undefined) as TOut<B>;
      return handler({ request, principal, ctx, params: parsedParams, query, body });
    },
    { access: spec.access },
  );
  return { spec: spec as TOperationSpec, handle };
}
