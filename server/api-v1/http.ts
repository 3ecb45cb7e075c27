import { randomUUID } from 'node:crypto';
import type { z } from 'zod';
import { AppError, isAppError, type TAppErrorCode } from '../errors';
import { isRateLimitedError } from '../limits/rate-limit';
import { clientErrorFromPostgres, loggableError } from '../postgres-errors';
import { parseInput, requireStorableText } from '../validation';

/** A route handler as Next.js calls it: the web Request and the route's (awaitable) params. */
export type TRouteHandler = (request: Request, context: { params: Promise<Record<string, string | string[] | undefined>> }) => Promise<Response>;

/** An error the API answers with, besides AppError: its code, and extra fields for the body. */
export class ApiError extends AppError {
  constructor(
    code: TAppErrorCode,
    message: string,
    readonly extra: Record<string, unknown> & { field?: string } = {},
  ) {
    super(code, message, { field: extra.field });
  }
}

/**
 * Every API error as `{ "error": { "code", "message", "field"? } }` with the AppError's status.
 * Anything else is a bug: a 500 that names a log id, never a stack.
 */
export function apiErrorResponse(thrown: unknown): Response {
  const error = clientErrorFromPostgres(thrown) ?? thrown;
  if (isAppError(error)) {
    const extra = error instanceof ApiError ? error.extra : {};
    const body = { error: { ...extra, code: error.code, message: error.message, ...(error.field ? { field: error.field } : {}) } };
    // RFC 6750: a 401 names the scheme the client should use.
    const headers: Record<string, string> = error.httpStatus === 401 ? { 'www-authenticate': 'Bearer realm="pairwise"' } : {};
    if (isRateLimitedError(error)) headers['retry-after'] = String(error.retryAfterS);
    return Response.json(body, { status: error.httpStatus, headers });
  }
  const logId = randomUUID().slice(0, 8);
  console.error(`[api/v1] internal error ${logId}:`, loggableError(error));
  return Response.json({ error: { code: 'INTERNAL', message: `Internal error (log id ${logId})` } }, { status: 500 });
}

/** The query string as an object (the last value wins for repeated keys). */
export function queryObject(request: Request): Record<string, string> {
  return Object.fromEntries(new URL(request.url).searchParams);
}

const MAX_JSON_BODY_BYTES = 1024 * 1024;

/** A JSON request body, checked with `schema`; a body that is not JSON is a 400. */
export async function parseJsonBody<S extends z.ZodType>(request: Request, schema: S): Promise<z.output<S>> {
  const text = await request.text();
  if (Buffer.byteLength(text) > MAX_JSON_BODY_BYTES) throw new AppError('BAD_REQUEST', `the JSON body is larger than ${MAX_JSON_BODY_BYTES} bytes`, { field: 'body' });
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new AppError('BAD_REQUEST', `the body is not JSON (${(error as Error).message})`, { field: 'body' });
  }
  requireStorableText(json);
  return parseInput(schema, json);
}

/** A stream of text or byte chunks as a response body; the iterator is closed when the client goes away. */
export function bodyStream(chunks: AsyncIterator<string | Uint8Array>, first?: IteratorResult<string | Uint8Array>): ReadableStream<Uint8Array> {
  const encoder = new TextEncoder();
  let pending = first;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      const next = pending ?? (await chunks.next());
      pending = undefined;
      if (next.done) controller.close();
      else controller.enqueue(typeof next.value === 'string' ? encoder.encode(next.value) : new Uint8Array(next.value));
    },
    async cancel() {
      await chunks.return?.(undefined);
    },
  });
}
