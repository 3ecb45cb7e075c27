/**
 * Telling "the database is away" apart from every other failure, so that callers get a 503
 * with Retry-After (try again shortly) instead of a 500 (a bug), and so that the driver's
 * own crash on a dropped connection does not take a web or worker process down with it.
 */

/** Socket-level and postgres.js connection codes: the server is unreachable or went away. */
const CONNECTION_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENOTFOUND',
  'EAI_AGAIN',
  'CONNECT_TIMEOUT',
  'CONNECTION_CLOSED',
  'CONNECTION_ENDED',
  'CONNECTION_DESTROYED',
]);

/**
 * PostgreSQL SQLSTATEs that mean "not now" rather than "wrong": class 08 (connection
 * exception), 57P01-57P03 (admin shutdown, crash shutdown, cannot connect now: starting up or
 * recovering), 53300 (too many connections), 57014 (statement timeout hit while waiting).
 */
function isUnavailableSqlState(code: string): boolean {
  return code.startsWith('08') || code === '57P01' || code === '57P02' || code === '57P03' || code === '53300';
}

/** postgres.js 3.4 dereferences its socket after a connection closed mid-write (see guardDriverCrashes). */
export function isDriverWriteCrash(error: unknown): boolean {
  return (
    error instanceof TypeError &&
    /Cannot read properties of null \(reading 'write'\)/.test(error.message) &&
    /postgres[\\/](?:cjs[\\/]|cf[\\/])?src[\\/]connection\.js/.test(error.stack ?? '')
  );
}

/**
 * postgres.js 3.4 reads the server's array types on a new connection without handling the
 * failure: a connection cut during that read rejects a promise nobody awaits.
 */
export function isDriverTypeFetchFailure(error: unknown): boolean {
  const query = (error as { query?: unknown } | null)?.query;
  return typeof query === 'string' && /pg_catalog\.pg_type/.test(query) && /typarray/.test(query) && isDatabaseUnavailable(error);
}

/** True when `error` (or anything in its cause chain, e.g. drizzle's query error) says the database is unreachable. */
export function isDatabaseUnavailable(error: unknown): boolean {
  for (let current = error, depth = 0; current && depth < 8; depth++) {
    if (typeof current !== 'object') return false;
    const code = (current as { code?: unknown }).code;
    if (typeof code === 'string' && (CONNECTION_CODES.has(code) || (/^[0-9A-Z]{5}$/.test(code) && isUnavailableSqlState(code)))) return true;
    if (isDriverWriteCrash(current)) return true;
    current = (current as { cause?: unknown }).cause;
  }
  return false;
}

/** Seconds a client is told to wait before retrying while the database is away. */
export const DATABASE_RETRY_AFTER_SECONDS = 3;

export const DATABASE_UNAVAILABLE_MESSAGE = 'The database is unavailable right now; try again in a few seconds.';

const guard = globalThis as unknown as { pairwiseDriverGuard?: boolean };

/**
 * postgres.js 3.4.9 can throw `TypeError: Cannot read properties of null (reading 'write')`
 * from a timer when a connection dies while a query is being written, and leaves the failure
 * of its array-type lookup on a new connection unhandled. Nothing can catch either, so by
 * default they kill the process: the web app or the worker would die each time the
 * database restarts. The pool replaces the dead connection by itself, so those two errors are
 * logged and survived; every other uncaught exception still ends the process as before.
 */
export function guardDriverCrashes(log: (line: string) => void = (line) => console.error(line)): void {
  if (guard.pairwiseDriverGuard) return;
  guard.pairwiseDriverGuard = true;
  process.on('uncaughtException', (error, origin) => {
    if (isDriverWriteCrash(error) || isDriverTypeFetchFailure(error)) {
      log(`[db] a database connection closed while in use (${(error as Error).message}); the pool reconnects`);
      return;
    }
    // Another handler (Next.js installs its own) decides; alone, behave as Node would.
    if (process.listenerCount('uncaughtException') > 1) return;
    console.error(origin === 'unhandledRejection' ? 'Unhandled rejection:' : 'Uncaught exception:', error);
    process.exit(1);
  });
}
