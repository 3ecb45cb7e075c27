import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import { AppError } from '../errors';
import { parseInput } from '../validation';
import { ZSubmitJudgment, type TSubmitJudgment } from './schemas';

export interface TSubmitResult {
  judgmentId: number;
  /** True when this submission id was already stored: the retry changed nothing. */
  duplicate: boolean;
}

/**
 * Stores an annotator's judgment for one of their assignments, exactly once.
 * The comparison row lock orders this against leasing and against a concurrent retry
 * of the same submission; the unique (annotator, client submission id) is the backstop.
 */
export async function submitJudgment(db: TDb, input: { annotatorId: number } & TSubmitJudgment): Promise<TSubmitResult> {
  const data = parseInput(ZSubmitJudgment, input);
  const annotatorId = input.annotatorId;
  return db.transaction(async (tx) => {
    const [assignment] = await tx.execute<{ comparison_id: number }>(sql`
      select comparison_id from assignments where id = ${data.assignmentId} and annotator_id = ${annotatorId}`);
    if (!assignment) throw new AppError('NOT_FOUND', 'no such assignment for this annotator', { field: 'assignmentId' });

    const [comparison] = await tx.execute<{ project_id: number; judgment_count: number; judgments_required: number }>(sql`
      select project_id, judgment_count, judgments_required from comparisons where id = ${assignment.comparison_id} for update`);
    if (!comparison) throw new AppError('NOT_FOUND', 'the comparison no longer exists');

    const [previous] = await tx.execute<{ id: number; assignment_id: number }>(sql`
      select id, assignment_id from judgments where annotator_id = ${annotatorId} and client_submission_id = ${data.clientSubmissionId}`);
    if (previous) {
      if (Number(previous.assignment_id) !== data.assignmentId) {
        throw new AppError('CONFLICT', 'this submission id was already used for another assignment', { field: 'clientSubmissionId' });
      }
      return { judgmentId: Number(previous.id), duplicate: true };
    }

    const [lease] = await tx.execute<{ status: string; expired: boolean; shown_response_ids: number[] }>(sql`
      select status, expires_at <= now() as expired, shown_response_ids from assignments where id = ${data.assignmentId}`);
    if (!lease) throw new AppError('NOT_FOUND', 'no such assignment for this annotator', { field: 'assignmentId' });
    if (lease.status === 'submitted') throw new AppError('CONFLICT', 'this comparison was already judged by you');
    if (lease.status !== 'active') throw new AppError('CONFLICT', 'this assignment was released');
    if (lease.expired) {
      // A late submit is still welcome while nobody else has taken the freed slot.
      const [others] = await tx.execute<{ n: number }>(sql`
        select count(*)::int as n from assignments
        where comparison_id = ${assignment.comparison_id} and annotator_id <> ${annotatorId}
          and status = 'active' and expires_at > now()`);
      if (comparison.judgment_count + (others?.n ?? 0) >= comparison.judgments_required) {
        throw new AppError('CONFLICT', 'your lease on this comparison expired and it went to another annotator');
      }
    }

    const shown = lease.shown_response_ids.map(Number);
    if (shown.length !== 2) throw new AppError('BAD_REQUEST', 'this comparison is not a pair');
    const chosen = shown[data.chosenPosition]!;
    const rejected = shown[1 - data.chosenPosition]!;

    const [judgment] = await tx.execute<{ id: number }>(sql`
      insert into judgments (project_id, comparison_id, assignment_id, annotator_id, chosen_response_id, rejected_response_id,
        chosen_position, strength, rationale, time_spent_ms, client_submission_id)
      values (${comparison.project_id}, ${assignment.comparison_id}, ${data.assignmentId}, ${annotatorId}, ${chosen}, ${rejected},
        ${data.chosenPosition}, ${data.strength}, ${data.rationale?.trim() || null}, ${data.timeSpentMs}, ${data.clientSubmissionId})
      returning id`);
    await tx.execute(sql`update assignments set status = 'submitted' where id = ${data.assignmentId}`);
    await tx.execute(sql`update comparisons set judgment_count = judgment_count + 1 where id = ${assignment.comparison_id}`);
    return { judgmentId: Number(judgment!.id), duplicate: false };
  });
}
