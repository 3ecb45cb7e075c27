import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import type { TStrength } from './strengths';

export interface THistoryItem {
  judgmentId: number;
  assignmentId: number;
  createdAt: string;
  /** The last user turn, shortened. */
  promptPreview: string;
  responses: number;
  strength: TStrength | null;
  edited: boolean;
  flags: string[];
  timeSpentMs: number;
}

/** An annotator's most recent judgments in a project (read-only, their own only). */
export async function listRecentJudgments(db: TDb, input: { projectId: number; annotatorId: number; limit?: number }): Promise<THistoryItem[]> {
  const rows = await db.execute<{
    id: number; assignment_id: number; created_at: Date; preview: string | null; responses: number; strength: TStrength | null; edited: boolean; flags: string[]; time_spent_ms: number;
  }>(sql`
    select j.id, j.assignment_id, j.created_at, j.strength, j.edited_response_id is not null as edited, j.flags, j.time_spent_ms,
      (select count(*)::int from comparison_responses cr where cr.comparison_id = j.comparison_id) as responses,
      (select left(m->>'content', 160) from jsonb_array_elements(p.messages) with ordinality as e(m, i)
        where m->>'role' = 'user' order by i desc limit 1) as preview
    from judgments j
    join comparisons c on c.id = j.comparison_id
    join prompts p on p.id = c.prompt_id
    where j.project_id = ${input.projectId} and j.annotator_id = ${input.annotatorId}
    order by j.id desc
    limit ${input.limit ?? 10}`);
  return rows.map((r) => ({
    judgmentId: Number(r.id),
    assignmentId: Number(r.assignment_id),
    createdAt: new Date(r.created_at).toISOString(),
    promptPreview: r.preview ?? '',
    responses: r.responses,
    strength: r.strength,
    edited: r.edited,
    flags: r.flags,
    timeSpentMs: r.time_spent_ms,
  }));
}
