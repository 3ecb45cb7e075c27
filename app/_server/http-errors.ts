import 'server-only';
import { randomUUID } from 'node:crypto';
import { isAppError } from '@/server/errors';

/** An AppError as a JSON response with its status; anything else as a 500 with a log id. */
export function errorResponse(error: unknown): Response {
  if (isAppError(error)) return Response.json({ error: error.message, field: error.field, code: error.code }, { status: error.httpStatus });
  const logId = randomUUID().slice(0, 8);
  console.error(`[http] internal error ${logId}:`, error);
  return Response.json({ error: `Internal error (log id ${logId})`, code: 'INTERNAL' }, { status: 500 });
}
