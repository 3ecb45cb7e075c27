import { sql } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import type { TMessage } from '@/db/schema';
import { AppError } from '../errors';
import { parseInput } from '../validation';
import { bigintArray } from './lease';
import { ZSubmitJudgment, type TSubmitJudgment } from './schemas';
import { resolveEdit, resolveVerdict, type TProjectRules } from './verdict';

export interface TSubmitResult {
  judgmentId: number;
  /** True when this submission id was already stored: the retry changed nothing. */
  duplicate: boolean;
}

/**
 * Stores an annotator's verdict on one of their assignments, exactly once: a pair (chosen,
 * strength), or a ranking of three or more; optionally an edit of the best response, stored as
 * a new response ranked above it (edited > chosen > rejected); flags; the guidelines version.
 * The comparison row lock orders this against leasing and against a concurrent retry of the
 * same submission; the unique (annotator, client submission id) is the backstop.
 */
export async function submitJudgment(db: TDb, input: { annotatorId: number } & TSubmitJudgment): Promise<TSubmitResult> {
  const data = parseInput(ZSubmitJudgment, input);
  const annotatorId = input.annotatorId;
  return db.transaction(async (tx) => {
    const [assignment] = await tx.execute<{ comparison_id: number }>(sql`
      select comparison_id from assignments where id = ${data.assignmentId} and annotator_id = ${annotatorId}`);
    if (!assignment) throw new AppError('NOT_FOUND', 'no such assignment for this annotator', { field: 'assignmentId' });

    const [comparison] = await tx.execute<{ project_id: number; prompt_id: number; judgment_count: number; judgments_required: number; gold: boolean }>(sql`
      select project_id, prompt_id, judgment_count, judgments_required, gold_choice is not null as gold
      from comparisons where id = ${assignment.comparison_id} for update`);
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
    if (lease.status === 'skipped') throw new AppError('CONFLICT', 'you skipped this comparison');
    // Gold is served to everyone, past its judgments required, so it has no slot to lose: were the
    // capacity rule applied, a late answer on gold would be refused where an ordinary one is not.
    if (lease.expired && !comparison.gold) {
      // A late submit is still welcome while nobody else has taken the freed slot.
      const [others] = await tx.execute<{ n: number }>(sql`
        select count(*)::int as n from assignments
        where comparison_id = ${assignment.comparison_id} and annotator_id <> ${annotatorId}
          and status = 'active' and expires_at > now()`);
      if (comparison.judgment_count + (others?.n ?? 0) >= comparison.judgments_required) {
        throw new AppError('CONFLICT', 'your lease on this comparison expired and it went to another annotator');
      }
    }

    const [project] = await tx.execute<TProjectRules & { guidelines_version: number | null }>(sql`
      select edit_mode as "editMode", allow_ties as "allowTies", ranking_strength as "rankingStrength",
        (select max(version) from project_guidelines g where g.project_id = p.id) as guidelines_version
      from projects p where p.id = ${comparison.project_id}`);
    const shown = lease.shown_response_ids.map(Number);
    const verdict = resolveVerdict(data, shown.length, project!);
    const groups = verdict.groups.map((g) => g.map((position) => shown[position]!));

    const best = groups[0]!.length === 1 ? groups[0]![0]! : null;
    let bestMessages: TMessage[] | null = null;
    if (best !== null && project!.editMode !== 'off') {
      const [row] = await tx.execute<{ messages: TMessage[] }>(sql`select messages from responses where id = ${best}`);
      bestMessages = row?.messages ?? null;
    }
    const edited = resolveEdit(data.edit, bestMessages, project!);
    let editedResponseId: number | null = null;
    if (edited) {
      const [row] = await tx.execute<{ id: number }>(sql`
        insert into responses (prompt_id, messages, origin, parent_response_id, author_id)
        values (${comparison.prompt_id}, ${JSON.stringify(edited)}::jsonb, 'edit', ${best}, ${annotatorId}) returning id`);
      editedResponseId = Number(row!.id);
    }

    const isPair = verdict.chosenPosition !== null;
    const flags = [...new Set(data.flags ?? [])];
    const [judgment] = await tx.execute<{ id: number }>(sql`
      insert into judgments (project_id, comparison_id, assignment_id, annotator_id, chosen_response_id, rejected_response_id,
        chosen_position, strength, rank_strengths, edited_response_id, flags, guidelines_version, rationale, time_spent_ms, client_submission_id)
      values (${comparison.project_id}, ${assignment.comparison_id}, ${data.assignmentId}, ${annotatorId},
        ${isPair ? groups[0]![0]! : null}, ${isPair ? groups[1]![0]! : null}, ${verdict.chosenPosition}, ${verdict.strength},
        ${verdict.rankStrengths ? `{${verdict.rankStrengths.join(',')}}` : null}::preference_strength[], ${editedResponseId},
        ${`{${flags.join(',')}}`}::text[], ${project!.guidelines_version}, ${data.rationale?.trim() || null}, ${data.timeSpentMs}, ${data.clientSubmissionId})
      returning id`);
    const judgmentId = Number(judgment!.id);

    // Ranks: the edit first, then each group; ties share a rank.
    const rankedIds: number[] = [];
    const ranks: number[] = [];
    const offset = editedResponseId ? 1 : 0;
    if (editedResponseId) {
      rankedIds.push(editedResponseId);
      ranks.push(1);
    }
    groups.forEach((group, i) => group.forEach((id) => (rankedIds.push(id), ranks.push(i + 1 + offset))));
    await tx.execute(sql`
      insert into judgment_ranks (judgment_id, response_id, rank)
      select ${judgmentId}, r.response_id, r.rank from unnest(${bigintArray(rankedIds)}, ${`{${ranks.join(',')}}`}::int[]) as r(response_id, rank)`);

    await tx.execute(sql`update assignments set status = 'submitted' where id = ${data.assignmentId}`);
    await tx.execute(sql`update comparisons set judgment_count = judgment_count + 1 where id = ${assignment.comparison_id}`);
    return { judgmentId, duplicate: false };
  });
}
