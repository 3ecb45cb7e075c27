import 'server-only';
import { randomUUID } from 'node:crypto';
import { DATABASE_RETRY_AFTER_SECONDS, DATABASE_UNAVAILABLE_MESSAGE, isDatabaseUnavailable } from '@/db/availability';
import { isAppError } from '@/server/errors';
import { clientErrorFromPostgres, loggableError } from '@/server/postgres-errors';

/** An AppError as a JSON response with its status; anything else as a 500 with a log id. */
export function errorResponse(thrown: unknown): Response {
  const error = clientErrorFromPostgres(thrown) ?? thrown;
  if (isAppError(error)) return Response.json({ error: error.message, field: error.field, code: error.code }, { status: error.httpStatus });
  if (isDatabaseUnavailable(error)) {
    console.error(`[http] database unavailable: ${(error as Error).message}`);
    return Response.json({ error: DATABASE_UNAVAILABLE_MESSAGE, code: 'UNAVAILABLE' }, { status: 503, headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) } });
  }
  const logId = randomUUID().slice(0, 8);
  console.error(`[http] internal error ${logId}:`, loggableError(error));
  return Response.json({ error: `Internal error (log id ${logId})`, code: 'INTERNAL' }, { status: 500 });
}
