import { sql, type SQL } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import type { TMessage } from '@/db/schema';
import type { TStrength } from '../annotation/strengths';
import { AppError } from '../errors';
import { parseInput } from '../validation';
import { conflictingComparisonsSql, countConflicts, voteCountsSql } from './consensus';
import { ZSubmitReview, type TReviewDecision, type TSubmitReview } from './review-schemas';

/**
 * Reviews of pair judgments: a reviewer accepts a judgment, rejects it (it then has no vote in
 * consensus and is left out of datasets) or corrects it (the correction is stored on the review,
 * beside the judgment, which is never changed). One review per judgment.
 */

export type TReviewReason = 'flagged' | 'conflict' | 'sampled';

export interface TReviewItem {
  judgmentId: number;
  comparisonId: number;
  externalId: string | null;
  /** Why the judgment is in the queue, in queue order: flagged, conflict, sampled. */
  reasons: TReviewReason[];
  prompt: TMessage[];
  /** The responses in canonical (import) order; model names are withheld, as from annotators. */
  responses: { messages: TMessage[] }[];
  /** Canonical position of the response the annotator chose. */
  chosen: 0 | 1;
  strength: TStrength | null;
  rationale: string | null;
  flags: string[];
  /** The annotator's edit of the chosen response, if any. */
  edit: TMessage[] | null;
  annotator: { id: number; email: string };
  /** Counted votes on the comparison (after reviews) for the first and the second response. */
  votes: [number, number];
  timeSpentMs: number;
  createdAt: string;
}

/**
 * Deterministic sampling: a judgment is sampled when a hash of its id, reduced to 0..9999,
 * falls under rate x 10000. The same judgment is always in or out whoever asks and whenever,
 * and raising the rate only adds judgments (everything sampled at 5% is still sampled at 10%).
 * hashint8 is PostgreSQL's built-in hash of bigint; `& 0x7fffffff` makes it non-negative.
 */
export function reviewSampleCondition(judgmentId: SQL, rate: SQL): SQL {
  return sql`((hashint8(${judgmentId}) & 2147483647) % 10000 < round(${rate}::numeric * 10000))`;
}

/**
 * The unreviewed pair judgments of a project that need a look, with why: flagged by the
 * annotator, on a conflicting comparison (see listConflicts), or sampled at the project's
 * review_sample_rate. Gold items are left out (they are checked against their answer), and so
 * are imported labels (judgments with a source: nobody's work to review).
 * `reviewerId`, when given, leaves out that person's own judgments. The statement must define
 * a `conflicting` CTE (conflictingComparisonsSql) for the candidates to read.
 */
function candidatesSql(projectId: number, reviewerId: number | null): SQL {
  return sql`
    select j.id, j.comparison_id,
      cardinality(j.flags) > 0 as flagged,
      j.comparison_id in (select comparison_id from conflicting) as conflict,
      ${reviewSampleCondition(sql`j.id`, sql`p.review_sample_rate`)} as sampled
    from judgments j
    join projects p on p.id = j.project_id
    join comparisons c on c.id = j.comparison_id
    where j.project_id = ${projectId} and j.chosen_response_id is not null and c.gold_choice is null and j.source is null
      ${reviewerId === null ? sql`` : sql`and j.annotator_id <> ${reviewerId}`}
      and not exists (select 1 from reviews r where r.judgment_id = j.id)`;
}

/**
 * A reviewer's queue in a project: flagged judgments first, then those on conflicting
 * comparisons (grouped by comparison), then sampled ones; never the reviewer's own.
 */
export async function reviewQueue(db: TDb, input: { projectId: number; reviewerId: number; limit?: number }): Promise<TReviewItem[]> {
  const limit = Math.min(Math.max(Math.trunc(input.limit ?? 20), 1), 200);
  const rows = await db.execute<{
    id: string; comparison_id: string; external_id: string | null; flagged: boolean; conflict: boolean; sampled: boolean;
    prompt: TMessage[]; responses: TMessage[][]; chosen: number; strength: TStrength | null; rationale: string | null; flags: string[];
    edit: TMessage[] | null; annotator_id: string; email: string; votes_0: number | null; votes_1: number | null; time_spent_ms: number; created_at: Date;
  }>(sql`
    with conflicting as (${conflictingComparisonsSql(input.projectId)}),
    candidates as (${candidatesSql(input.projectId, input.reviewerId)}),
    queue as (
      select * from candidates q where q.flagged or q.conflict or q.sampled
      order by q.flagged desc, q.conflict desc, q.comparison_id, q.id
      limit ${limit})
    select q.id, q.comparison_id, c.external_id, q.flagged, q.conflict, q.sampled,
      p.messages as prompt,
      (select json_agg(r.messages order by cr.position) from comparison_responses cr join responses r on r.id = cr.response_id
        where cr.comparison_id = q.comparison_id) as responses,
      chosen.position as chosen, j.strength, j.rationale, j.flags,
      (select e.messages from responses e where e.id = j.edited_response_id) as edit,
      j.annotator_id, u.email, vc.votes_0, vc.votes_1, j.time_spent_ms, j.created_at
    from queue q
    join judgments j on j.id = q.id
    join comparisons c on c.id = q.comparison_id
    join prompts p on p.id = c.prompt_id
    join comparison_responses chosen on chosen.comparison_id = q.comparison_id and chosen.response_id = j.chosen_response_id
    join users u on u.id = j.annotator_id
    left join (${voteCountsSql(input.projectId, sql`j.comparison_id in (select comparison_id from queue)`)}) vc on vc.comparison_id = q.comparison_id
    order by q.flagged desc, q.conflict desc, q.comparison_id, q.id`);
  return rows.map((r) => ({
    judgmentId: Number(r.id),
    comparisonId: Number(r.comparison_id),
    externalId: r.external_id,
    reasons: [r.flagged && 'flagged', r.conflict && 'conflict', r.sampled && 'sampled'].filter((x): x is TReviewReason => !!x),
    prompt: r.prompt,
    responses: r.responses.map((messages) => ({ messages })),
    chosen: r.chosen as 0 | 1,
    strength: r.strength,
    rationale: r.rationale,
    flags: r.flags,
    edit: r.edit,
    annotator: { id: Number(r.annotator_id), email: r.email },
    votes: [r.votes_0 ?? 0, r.votes_1 ?? 0],
    timeSpentMs: r.time_spent_ms,
    createdAt: new Date(r.created_at).toISOString(),
  }));
}

/**
 * Stores a reviewer's decision on a judgment of the project. Refused: a judgment of another
 * project (NOT_FOUND), a ranking (only pairs are reviewed), the reviewer's own judgment, a
 * correction identical to the annotator's verdict (that is an accept), a second review (CONFLICT).
 */
export async function submitReview(db: TDb, input: { projectId: number; reviewerId: number } & TSubmitReview): Promise<{ reviewId: number }> {
  const data = parseInput(ZSubmitReview, input);
  const [judgment] = await db.execute<{ annotator_id: string; chosen: number | null; strength: TStrength | null }>(sql`
    select j.annotator_id, cr.position as chosen, j.strength
    from judgments j
    left join comparison_responses cr on cr.comparison_id = j.comparison_id and cr.response_id = j.chosen_response_id
    where j.id = ${data.judgmentId} and j.project_id = ${input.projectId}`);
  if (!judgment) throw new AppError('NOT_FOUND', `no judgment ${data.judgmentId} in this project`, { field: 'judgmentId' });
  if (judgment.chosen === null) throw new AppError('BAD_REQUEST', 'only pair judgments are reviewed', { field: 'judgmentId' });
  if (Number(judgment.annotator_id) === input.reviewerId) throw new AppError('FORBIDDEN', 'you cannot review your own judgment', { field: 'judgmentId' });
  if (data.decision === 'correct' && data.correctedChoice === judgment.chosen && data.correctedStrength === judgment.strength) {
    throw new AppError('BAD_REQUEST', 'the correction equals the annotator’s verdict: accept it instead', { field: 'correctedChoice' });
  }
  const [row] = await db.execute<{ id: string }>(sql`
    insert into reviews (judgment_id, project_id, reviewer_id, decision, corrected_choice, corrected_strength, note)
    values (${data.judgmentId}, ${input.projectId}, ${input.reviewerId}, ${data.decision}, ${data.correctedChoice ?? null},
      ${data.correctedStrength ?? null}, ${data.note || null})
    on conflict (judgment_id) do nothing
    returning id`);
  if (!row) throw new AppError('CONFLICT', 'this judgment has already been reviewed', { field: 'judgmentId' });
  return { reviewId: Number(row.id) };
}

type TDecisionCounts = Record<TReviewDecision, number>;

export interface TReviewStats {
  /** Pair judgments in the project (what can be reviewed). */
  judgments: number;
  reviewed: number;
  /** reviewed / judgments; null without judgments. */
  reviewedShare: number | null;
  /** The project's review_sample_rate. */
  sampleRate: number;
  decisions: TDecisionCounts;
  /** Share of reviews per decision; null before the first review. */
  rates: Record<TReviewDecision, number | null>;
  /** Unreviewed judgments waiting in the queue, by reason (a judgment may have several). */
  pending: { total: number; flagged: number; conflict: number; sampled: number };
  /** Conflicting comparisons (majority rule), reviewed or not. */
  conflicts: number;
  byReviewer: ({ reviewerId: number; email: string; reviewed: number; lastReviewAt: string; acceptanceRate: number } & TDecisionCounts)[];
  /** Each annotator's review outcomes. */
  byAnnotator: { annotatorId: number; email: string; judgments: number; reviewed: number; accepted: number; rejected: number; corrected: number }[];
  recent: {
    reviewId: number; judgmentId: number; comparisonId: number; reviewer: string; annotator: string; decision: TReviewDecision;
    original: { choice: number; strength: TStrength | null }; correction: { choice: number; strength: TStrength | null } | null; note: string | null; createdAt: string;
  }[];
}

const share = (n: number, of: number) => (of > 0 ? n / of : null);

/** Reviewer decisions and their rates, the queue's size, and every annotator's review outcomes. */
export async function reviewStats(db: TDb, projectId: number): Promise<TReviewStats> {
  const [totals] = await db.execute<{ judgments: number; reviewed: number; accept: number; reject: number; correct: number }>(sql`
    select count(*)::int as judgments, count(r.id)::int as reviewed,
      count(*) filter (where r.decision = 'accept')::int as accept,
      count(*) filter (where r.decision = 'reject')::int as reject,
      count(*) filter (where r.decision = 'correct')::int as correct
    from judgments j left join reviews r on r.judgment_id = j.id
    where j.project_id = ${projectId} and j.chosen_response_id is not null and j.source is null`);
  const [project] = await db.execute<{ rate: number }>(sql`select review_sample_rate as rate from projects where id = ${projectId}`);
  const [pending] = await db.execute<{ total: number; flagged: number; conflict: number; sampled: number }>(sql`
    with conflicting as (${conflictingComparisonsSql(projectId)}),
    candidates as (${candidatesSql(projectId, null)})
    select count(*) filter (where flagged or conflict or sampled)::int as total,
      count(*) filter (where flagged)::int as flagged, count(*) filter (where conflict)::int as conflict,
      count(*) filter (where sampled)::int as sampled
    from candidates`);
  const byReviewer = await db.execute<{ reviewer_id: string; email: string; reviewed: number; accept: number; reject: number; correct: number; last: Date }>(sql`
    select r.reviewer_id, u.email, count(*)::int as reviewed,
      count(*) filter (where r.decision = 'accept')::int as accept,
      count(*) filter (where r.decision = 'reject')::int as reject,
      count(*) filter (where r.decision = 'correct')::int as correct,
      max(r.created_at) as last
    from reviews r join users u on u.id = r.reviewer_id
    where r.project_id = ${projectId}
    group by r.reviewer_id, u.email
    order by count(*) desc, u.email`);
  const byAnnotator = await db.execute<{ annotator_id: string; email: string; judgments: number; reviewed: number; accepted: number; rejected: number; corrected: number }>(sql`
    select j.annotator_id, u.email, count(*)::int as judgments, count(r.id)::int as reviewed,
      count(*) filter (where r.decision = 'accept')::int as accepted,
      count(*) filter (where r.decision = 'reject')::int as rejected,
      count(*) filter (where r.decision = 'correct')::int as corrected
    from judgments j join users u on u.id = j.annotator_id left join reviews r on r.judgment_id = j.id
    where j.project_id = ${projectId} and j.chosen_response_id is not null and j.source is null
    group by j.annotator_id, u.email
    order by u.email`);
  const recent = await db.execute<{
    id: string; judgment_id: string; comparison_id: string; reviewer: string; annotator: string; decision: TReviewDecision;
    chosen: number; strength: TStrength | null; corrected_choice: number | null; corrected_strength: TStrength | null; note: string | null; created_at: Date;
  }>(sql`
    select r.id, r.judgment_id, j.comparison_id, ru.email as reviewer, au.email as annotator, r.decision,
      cr.position as chosen, j.strength, r.corrected_choice, r.corrected_strength, r.note, r.created_at
    from reviews r
    join judgments j on j.id = r.judgment_id
    join comparison_responses cr on cr.comparison_id = j.comparison_id and cr.response_id = j.chosen_response_id
    join users ru on ru.id = r.reviewer_id
    join users au on au.id = j.annotator_id
    where r.project_id = ${projectId}
    order by r.id desc
    limit 20`);

  const t = totals!;
  return {
    judgments: t.judgments,
    reviewed: t.reviewed,
    reviewedShare: share(t.reviewed, t.judgments),
    sampleRate: project?.rate ?? 0,
    decisions: { accept: t.accept, reject: t.reject, correct: t.correct },
    rates: { accept: share(t.accept, t.reviewed), reject: share(t.reject, t.reviewed), correct: share(t.correct, t.reviewed) },
    pending: pending!,
    conflicts: await countConflicts(db, projectId),
    byReviewer: byReviewer.map((r) => ({
      reviewerId: Number(r.reviewer_id),
      email: r.email,
      reviewed: r.reviewed,
      accept: r.accept,
      reject: r.reject,
      correct: r.correct,
      acceptanceRate: r.accept / r.reviewed,
      lastReviewAt: new Date(r.last).toISOString(),
    })),
    byAnnotator: byAnnotator.map((a) => ({
      annotatorId: Number(a.annotator_id),
      email: a.email,
      judgments: a.judgments,
      reviewed: a.reviewed,
      accepted: a.accepted,
      rejected: a.rejected,
      corrected: a.corrected,
    })),
    recent: recent.map((r) => ({
      reviewId: Number(r.id),
      judgmentId: Number(r.judgment_id),
      comparisonId: Number(r.comparison_id),
      reviewer: r.reviewer,
      annotator: r.annotator,
      decision: r.decision,
      original: { choice: r.chosen, strength: r.strength },
      correction: r.decision === 'correct' ? { choice: r.corrected_choice!, strength: r.corrected_strength } : null,
      note: r.note,
      createdAt: new Date(r.created_at).toISOString(),
    })),
  };
}
