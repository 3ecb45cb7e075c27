import { sql } from 'drizzle-orm';
import { DATABASE_RETRY_AFTER_SECONDS } from '@/db/availability';
import { getDb } from '@/db/client';

export const dynamic = 'force-dynamic';

/** A load balancer gives up on a check after a few seconds: a database that does not answer by then is down. */
const PROBE_TIMEOUT_MS = 1_500;

function withTimeout<T>(promise: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`no answer within ${ms} ms`)), ms);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

/** Liveness and database status, for load balancers and the launcher's readiness check. */
export async function GET() {
  const started = performance.now();
  try {
    await withTimeout(getDb().db.execute(sql`select 1`), PROBE_TIMEOUT_MS);
    return Response.json({ status: 'ok', database: { status: 'ok', latencyMs: Math.round(performance.now() - started) } });
  } catch (error) {
    // The database's own error text (host, user, driver messages) is for the log, not for anyone who asks.
    console.error(`[health] database unreachable: ${(error as Error).message}`);
    return Response.json({ status: 'error', database: { status: 'unreachable' } }, { status: 503, headers: { 'Retry-After': String(DATABASE_RETRY_AFTER_SECONDS) } });
  }
}
