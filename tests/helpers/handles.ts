import type { TDbHandle } from '@/db/client';
import { assignmentOfHandle } from '@/server/annotation/handles';

/** The assignment and comparison behind a handle an annotator received (what only the server knows). */
export async function resolveHandle(handle: TDbHandle, itemHandle: string, annotatorId: number): Promise<{ assignmentId: number; comparisonId: number }> {
  const assignmentId = assignmentOfHandle(itemHandle, annotatorId);
  if (assignmentId === null) throw new Error(`handle ${itemHandle} is not annotator ${annotatorId}'s`);
  const [row] = await handle.sql<{ comparison_id: string }[]>`select comparison_id from assignments where id = ${assignmentId}`;
  if (!row) throw new Error(`no assignment ${assignmentId}`);
  return { assignmentId, comparisonId: Number(row.comparison_id) };
}
