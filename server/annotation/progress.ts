import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';

/** What the annotator sees of their own work in a project. */
export async function getAnnotatorProgress(db: TDb, input: { projectId: number; annotatorId: number }) {
  const [row] = await db.execute<{ total: number; today: number }>(sql`
    select count(*)::int as total,
      count(*) filter (where created_at >= date_trunc('day', now()))::int as today
    from judgments where project_id = ${input.projectId} and annotator_id = ${input.annotatorId}`);
  return { total: row?.total ?? 0, today: row?.today ?? 0 };
}
