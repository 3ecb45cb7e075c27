import { sql } from 'drizzle-orm';
import { getDb } from '@/db/client';

export const dynamic = 'force-dynamic';

/** Liveness and database status, for load balancers and the launcher's readiness check. */
export async function GET() {
  const started = performance.now();
  try {
    await getDb().db.execute(sql`select 1`);
    return Response.json({ status: 'ok', database: { status: 'ok', latencyMs: Math.round(performance.now() - started) } });
  } catch (error) {
    // The database's own error text (host, user, driver messages) is for the log, not for anyone who asks.
    console.error(`[health] database unreachable: ${(error as Error).message}`);
    return Response.json({ status: 'error', database: { status: 'unreachable' } }, { status: 503, headers: { 'Retry-After': '5' } });
  }
}
