import { DrizzleQueryError } from 'drizzle-orm/errors';
import { AppError } from './errors';

/** What PostgreSQL said about a failed statement, found under whatever wraps it. */
export interface TPostgresError {
  /** SQLSTATE, e.g. 23505 for a unique violation. */
  code: string;
  message: string;
  constraint?: string;
  column?: string;
  table?: string;
}

/**
 * The PostgreSQL error behind `error`, or null. drizzle wraps driver errors in a
 * DrizzleQueryError (whose own `code` is undefined), so a check of `error.code` alone misses them.
 */
export function postgresError(error: unknown): TPostgresError | null {
  for (let current = error, depth = 0; current && typeof current === 'object' && depth < 5; current = (current as { cause?: unknown }).cause, depth++) {
    const candidate = current as { name?: string; code?: unknown; message?: string; constraint_name?: string; column_name?: string; table_name?: string };
    if (candidate.name === 'PostgresError' && typeof candidate.code === 'string') {
      return {
        code: candidate.code,
        message: candidate.message ?? '',
        constraint: candidate.constraint_name,
        column: candidate.column_name,
        table: candidate.table_name,
      };
    }
  }
  return null;
}

/**
 * A statement refused for its data (SQLSTATE classes 22 and 23) as the client's error, for
 * what input validation did not catch: a 400 or 409 that names the column, never a 500.
 * Anything else (connection loss, a bug in a query) is not the client's doing: null.
 */
export function clientErrorFromPostgres(error: unknown): AppError | null {
  const pg = postgresError(error);
  if (!pg) return null;
  const field = pg.column;
  const what = field ? `${field}: ` : '';
  switch (pg.code) {
    case '23505':
      return new AppError('CONFLICT', `${what}this already exists${pg.constraint ? ` (${pg.constraint})` : ''}`, { field, cause: error });
    case '23503':
      return new AppError('BAD_REQUEST', `${what}refers to something that does not exist or is still in use${pg.constraint ? ` (${pg.constraint})` : ''}`, { field, cause: error });
    case '23502':
      return new AppError('BAD_REQUEST', `${what}a value is required`, { field, cause: error });
    case '23514':
    case '23P01':
      return new AppError('BAD_REQUEST', `${what}a value breaks the rule ${pg.constraint ?? 'of this table'}`, { field, cause: error });
  }
  if (pg.code.startsWith('22')) return new AppError('BAD_REQUEST', `${what}a value cannot be stored: ${pg.message}`, { field, cause: error });
  return null;
}

/**
 * An unexpected error as it may be logged: the failed statement's text but never its
 * parameters (they hold what users typed, imported text and secrets), and the database's reason.
 */
export function loggableError(error: unknown): unknown {
  if (error instanceof DrizzleQueryError) {
    const pg = postgresError(error);
    const reason = pg ? `${pg.code} ${pg.message}` : String(error.cause ?? 'unknown cause');
    const redacted = new Error(`Failed query: ${error.query}\nreason: ${reason}`);
    const frames = (error.stack ?? '').split('\n').filter((line) => line.trimStart().startsWith('at '));
    redacted.stack = [redacted.message, ...frames].join('\n');
    return redacted;
  }
  return error;
}
