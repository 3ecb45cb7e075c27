import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { AppError } from '../errors';
import { parseInput } from '../validation';
import { ZSkipInput } from './schemas';

/**
 * Skips an assignment with a reason. The lease ends, so the comparison goes back to the pool
 * for others; the assignment row stays (status 'skipped'), so it never comes back to this annotator.
 */
export async function skipAssignment(db: TDb, input: { annotatorId: number; assignmentId: number; reason: string }): Promise<{ skipped: true }> {
  const data = parseInput(ZSkipInput, input);
  return db.transaction(async (tx) => {
    const [assignment] = await tx.execute<{ comparison_id: number }>(sql`
      select comparison_id from assignments where id = ${data.assignmentId} and annotator_id = ${input.annotatorId}`);
    if (!assignment) throw new AppError('NOT_FOUND', 'no such assignment for this annotator', { field: 'assignmentId' });
    await tx.execute(sql`select 1 from comparisons where id = ${assignment.comparison_id} for update`);
    const [row] = await tx.execute<{ status: string }>(sql`select status from assignments where id = ${data.assignmentId}`);
    if (row?.status === 'skipped') return { skipped: true as const };
    if (row?.status !== 'active') throw new AppError('CONFLICT', 'this comparison was already judged');
    await tx.execute(sql`update assignments set status = 'skipped', skip_reason = ${data.reason} where id = ${data.assignmentId}`);
    return { skipped: true as const };
  });
}
