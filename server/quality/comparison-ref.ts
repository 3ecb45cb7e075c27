import { and, eq } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { comparisons } from '@/db/schema';
import { AppError } from '../errors';

/** A comparison named on the command line: "#123" is its numeric id, anything else its id in the import file. */
export async function resolveComparisonId(db: TDb, projectId: number, ref: string): Promise<number> {
  const numeric = /^#(\d+)$/.exec(ref);
  const [row] = await db
    .select({ id: comparisons.id })
    .from(comparisons)
    .where(and(eq(comparisons.projectId, projectId), numeric ? eq(comparisons.id, Number(numeric[1])) : eq(comparisons.externalId, ref)));
  if (!row) throw new AppError('NOT_FOUND', `no comparison ${ref} in this project`, { field: 'comparison' });
  return row.id;
}
