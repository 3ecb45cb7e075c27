import { and, eq, sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { comparisonResponses, comparisons } from '@/db/schema';
import type { TStrength } from '../annotation/strengths';
import { AppError } from '../errors';

export interface TGoldAccuracy {
  annotatorId: number;
  answered: number;
  correct: number;
  accuracy: number;
  /** Under the project's threshold with at least its minimum of gold answers. */
  flagged: boolean;
}

/**
 * Marks a two-response comparison as a gold item: `choice` is the canonical position (0 = the
 * first response as imported) of the expected better response; `minStrength`, when given, is
 * the weakest strength still counted correct. Gold items are served to every annotator
 * (not limited by judgments required) at the project's gold rate.
 */
export async function markGold(db: TDb, input: { projectId: number; comparisonId: number; choice: number; minStrength?: TStrength | null }): Promise<void> {
  const [row] = await db
    .select({ id: comparisons.id, responses: sql<number>`(select count(*)::int from comparison_responses cr where cr.comparison_id = ${comparisons.id})` })
    .from(comparisons)
    .where(and(eq(comparisons.id, input.comparisonId), eq(comparisons.projectId, input.projectId)));
  if (!row) throw new AppError('NOT_FOUND', `no comparison ${input.comparisonId} in this project`, { field: 'comparison' });
  if (row.responses !== 2) throw new AppError('BAD_REQUEST', 'only pairs can be gold items', { field: 'comparison' });
  if (input.choice !== 0 && input.choice !== 1) throw new AppError('BAD_REQUEST', 'the expected choice is 0 (first response) or 1 (second)', { field: 'choice' });
  await db.update(comparisons).set({ goldChoice: input.choice, goldMinStrength: input.minStrength ?? null }).where(eq(comparisons.id, input.comparisonId));
}

/** A comparison's gold answer (null choice: not gold), e.g. for the audit log's "before". */
export async function goldOf(db: TDb, comparisonId: number): Promise<{ comparisonId: number; goldChoice: number | null; goldMinStrength: string | null } | null> {
  const [row] = await db.select({ goldChoice: comparisons.goldChoice, goldMinStrength: comparisons.goldMinStrength }).from(comparisons).where(eq(comparisons.id, comparisonId));
  return row ? { comparisonId, ...row } : null;
}

export async function unmarkGold(db: TDb, input: { projectId: number; comparisonId: number }): Promise<void> {
  await db
    .update(comparisons)
    .set({ goldChoice: null, goldMinStrength: null })
    .where(and(eq(comparisons.id, input.comparisonId), eq(comparisons.projectId, input.projectId)));
}

/** Per annotator: gold items answered, answered correctly (choice, and strength when asked). */
export async function goldAccuracyByAnnotator(db: TDb, projectId: number, annotatorId?: number): Promise<TGoldAccuracy[]> {
  const rows = await db.execute<{ annotator_id: string; answered: number; correct: number; threshold: number; min_items: number }>(sql`
    select j.annotator_id, count(*)::int as answered,
      count(*) filter (where cr.position = c.gold_choice
        and (c.gold_min_strength is null or j.strength <= c.gold_min_strength))::int as correct,
      p.gold_threshold as threshold, p.gold_min_items as min_items
    from judgments j
    join comparisons c on c.id = j.comparison_id
    join ${comparisonResponses} cr on cr.comparison_id = c.id and cr.response_id = j.chosen_response_id
    join projects p on p.id = j.project_id
    where j.project_id = ${projectId} and c.gold_choice is not null and j.source is null
      and (${annotatorId ?? null}::bigint is null or j.annotator_id = ${annotatorId ?? null}::bigint)
    group by j.annotator_id, p.gold_threshold, p.gold_min_items
    order by j.annotator_id`);
  return rows.map((r) => {
    const accuracy = r.answered ? r.correct / r.answered : 0;
    return { annotatorId: Number(r.annotator_id), answered: r.answered, correct: r.correct, accuracy, flagged: r.answered >= r.min_items && accuracy < r.threshold };
  });
}

/** An annotator flagged by gold in a project that pauses flagged annotators gets no new work. */
export async function isPausedByGold(db: TDb, input: { projectId: number; annotatorId: number }): Promise<boolean> {
  const [project] = await db.execute<{ pause: boolean }>(sql`select pause_below_gold as pause from projects where id = ${input.projectId}`);
  if (!project?.pause) return false;
  // On every lease when pausing is on: only this annotator's gold answers, not the project's.
  const [mine] = await goldAccuracyByAnnotator(db, input.projectId, input.annotatorId);
  return mine?.flagged ?? false;
}
