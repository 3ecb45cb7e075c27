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
    return Response.json({ status: 'error', database: { status: 'unreachable', error: (error as Error).message } }, { status: 503 });
  }
}
