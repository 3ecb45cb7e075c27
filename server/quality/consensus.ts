import { sql, type SQL } from 'drizzle-orm';
import type { TDb } from '@/db/client';
import type { TStrength } from '../annotation/strengths';
import { goldAccuracyByAnnotator } from './gold';

/**
 * Consensus per pair comparison, for dataset building and for the review queue.
 *
 * Votes. Every pair judgment votes for the canonical position (comparison_responses.position,
 * 0 = first response as imported) of the response it chose, with its strength. A judgment a
 * reviewer rejected has no vote; a corrected judgment votes with the reviewer's correction
 * instead of its own verdict (the judgment row itself is never changed).
 *
 * Majority ('majority' weighting, one annotator one vote): the side with more votes wins.
 *   - Strength: the median strength of the winning side's voters; with an even count, the
 *     weaker of the two middle values (conservative: a dataset filter on "better or stronger"
 *     must not keep a pair that half of its voters found only slightly better).
 *   - A tie in votes is no consensus: choice and strength are null, status 'tie', and the
 *     comparison is listed as a conflict.
 *   - status 'unanimous' when no counted vote went to the other side, else 'majority'.
 *
 * Trust ('trust' weighting): each annotator's vote weighs the log-odds of their smoothed gold
 * accuracy, w = ln((correct + 1) / (answered - correct + 1)), floored at 0: an annotator no
 * better than chance on gold items has no say, one without gold answers has ln(1) = 0. When
 * nobody in the project has answered a gold item, every weight is 1 (the majority rule).
 * The side with the larger total weight wins; equal totals (0 = 0 included) are a tie. The
 * strength is the median, by the same rule, over the winning side's voters with a say.
 */
export type TWeighting = 'majority' | 'trust';
export type TConsensusStatus = 'unanimous' | 'majority' | 'tie';

export interface TConsensus {
  comparisonId: number;
  externalId: string | null;
  /** Gold items: the known answer (consensus is still computed; conflicts skip gold items). */
  goldChoice: number | null;
  /** Counted votes for the first and the second response. */
  votes: [number, number];
  /** Total weight per side: equal to `votes` under 'majority' weighting. */
  weights: [number, number];
  /** Canonical position of the consensus choice; null on a tie. */
  choice: 0 | 1 | null;
  strength: TStrength | null;
  /** The winning side's share of the total weight (0.5 on a tie; null when nobody has a say). */
  agreement: number | null;
  status: TConsensusStatus;
}

export interface TConsensusPage {
  weighting: TWeighting;
  /** Trust weighting asked for, but nobody has gold answers: everyone weighed 1. */
  equalWeights: boolean;
  items: TConsensus[];
  /** Pass as `cursor` for the next page; null on the last page. */
  nextCursor: number | null;
}

export interface TAnnotatorWeight {
  annotatorId: number;
  answered: number;
  correct: number;
  weight: number;
}

/** A conflict: a tie, or a majority holding less than this share of the votes. */
export const CONFLICT_SHARE = 2 / 3;

/** The trust weight of each annotator with gold answers (see the module comment). */
export async function annotatorTrustWeights(db: TDb, projectId: number): Promise<TAnnotatorWeight[]> {
  return (await goldAccuracyByAnnotator(db, projectId)).map((g) => ({
    annotatorId: g.annotatorId,
    answered: g.answered,
    correct: g.correct,
    weight: Math.max(0, Math.log((g.correct + 1) / (g.answered - g.correct + 1))),
  }));
}

/**
 * The votes of a project's pair judgments, after reviews: one row per counted vote with
 * comparison_id, choice (canonical position), strength and weight. `weights` null: weight 1.
 */
function votesSql(projectId: number, weights: TAnnotatorWeight[] | null, only?: SQL): SQL {
  const weightJoin = weights
    ? sql`left join unnest(${`{${weights.map((w) => w.annotatorId).join(',')}}`}::bigint[], ${`{${weights.map((w) => w.weight).join(',')}}`}::float8[])
        as w(annotator_id, weight) on w.annotator_id = j.annotator_id`
    : sql``;
  return sql`
    select j.comparison_id,
      case when rv.decision = 'correct' then rv.corrected_choice else cr.position end as choice,
      case when rv.decision = 'correct' then rv.corrected_strength else j.strength end as strength,
      ${weights ? sql`coalesce(w.weight, 0)::float8` : sql`1::float8`} as weight
    from judgments j
    join comparison_responses cr on cr.comparison_id = j.comparison_id and cr.response_id = j.chosen_response_id
    left join reviews rv on rv.judgment_id = j.id
    ${weightJoin}
    where j.project_id = ${projectId} and j.chosen_response_id is not null
      and rv.decision is distinct from 'reject'
      ${only ? sql`and ${only}` : sql``}`;
}

/**
 * Per comparison: votes_0/1, weight_0/1 (rounded, so equal weights compare equal whatever the
 * order of summing), and the median strength of each side (ordered weakest first, so the lower
 * median of an even count is the weaker middle value).
 */
function tallySql(votes: SQL): SQL {
  return sql`
    select v.comparison_id,
      count(*) filter (where v.choice = 0)::int as votes_0,
      count(*) filter (where v.choice = 1)::int as votes_1,
      coalesce(round(sum(v.weight) filter (where v.choice = 0)::numeric, 9), 0)::float8 as weight_0,
      coalesce(round(sum(v.weight) filter (where v.choice = 1)::numeric, 9), 0)::float8 as weight_1,
      percentile_disc(0.5) within group (order by v.strength desc) filter (where v.choice = 0 and v.weight > 0) as strength_0,
      percentile_disc(0.5) within group (order by v.strength desc) filter (where v.choice = 1 and v.weight > 0) as strength_1
    from (${votes}) v
    group by v.comparison_id`;
}

/** Columns derived from a tally row `t`: choice, strength, agreement, status. */
const verdictColumns = sql`
  case when t.weight_0 > t.weight_1 then 0 when t.weight_1 > t.weight_0 then 1 end as choice,
  case when t.weight_0 > t.weight_1 then t.strength_0 when t.weight_1 > t.weight_0 then t.strength_1 end as strength,
  case when t.weight_0 + t.weight_1 > 0 then greatest(t.weight_0, t.weight_1) / (t.weight_0 + t.weight_1) end as agreement,
  case when t.weight_0 = t.weight_1 then 'tie'
    when (t.weight_0 > t.weight_1 and t.votes_1 = 0) or (t.weight_1 > t.weight_0 and t.votes_0 = 0) then 'unanimous'
    else 'majority' end as status`;

/** Majority-rule conflict on a tally row `t`: a tie, or the majority's share below 2/3 (integer arithmetic). */
const conflictCondition = sql`(t.votes_0 = t.votes_1 or 3 * greatest(t.votes_0, t.votes_1) < 2 * (t.votes_0 + t.votes_1))`;

/**
 * The ids of a project's conflicting comparisons under the majority rule, as a subquery with
 * one column, comparison_id. Gold items are left out: their answer is known, and annotators'
 * disagreement there is what gold accuracy measures.
 */
export function conflictingComparisonsSql(projectId: number): SQL {
  return sql`
    select t.comparison_id from (${tallySql(votesSql(projectId, null))}) t
    join comparisons c on c.id = t.comparison_id
    where c.gold_choice is null and ${conflictCondition}`;
}

/**
 * The counted votes of a project's comparisons (majority rule), as a subquery: comparison_id,
 * votes_0, votes_1. `only`: a condition on `j.comparison_id` that narrows the work.
 */
export function voteCountsSql(projectId: number, only?: SQL): SQL {
  return sql`select t.comparison_id, t.votes_0, t.votes_1 from (${tallySql(votesSql(projectId, null, only))}) t`;
}

type TRow = {
  comparison_id: string;
  external_id: string | null;
  gold_choice: number | null;
  votes_0: number;
  votes_1: number;
  weight_0: number;
  weight_1: number;
  choice: number | null;
  strength: TStrength | null;
  agreement: number | null;
  status: TConsensusStatus;
};

function toConsensus(r: TRow): TConsensus {
  return {
    comparisonId: Number(r.comparison_id),
    externalId: r.external_id,
    goldChoice: r.gold_choice,
    votes: [r.votes_0, r.votes_1],
    weights: [Number(r.weight_0), Number(r.weight_1)],
    choice: r.choice === null ? null : (r.choice as 0 | 1),
    strength: r.strength,
    agreement: r.agreement === null ? null : Number(r.agreement),
    status: r.status,
  };
}

/** The weights to use: null for one-annotator-one-vote. */
async function weightsFor(db: TDb, projectId: number, weighting: TWeighting): Promise<{ weights: TAnnotatorWeight[] | null; equalWeights: boolean }> {
  if (weighting === 'majority') return { weights: null, equalWeights: false };
  const weights = await annotatorTrustWeights(db, projectId);
  // Nobody has answered a gold item: there is nothing to weigh by, so everyone counts the same.
  if (!weights.some((w) => w.answered > 0)) return { weights: null, equalWeights: true };
  return { weights, equalWeights: false };
}

/**
 * The consensus of a project's pair comparisons that have at least one counted vote, in
 * comparison id order, a page at a time (`cursor`: the last comparison id of the previous page).
 */
export async function consensusForProject(
  db: TDb,
  projectId: number,
  options: { weighting: TWeighting; limit?: number; cursor?: number | null },
): Promise<TConsensusPage> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 100), 1), 5000);
  const { weights, equalWeights } = await weightsFor(db, projectId, options.weighting);
  // The page's comparisons first, so a page costs its own votes only, not the project's.
  const page = sql`
    select c.id from comparisons c
    where c.project_id = ${projectId} and c.id > ${options.cursor ?? 0}
      and exists (
        select 1 from judgments j left join reviews rv on rv.judgment_id = j.id
        where j.comparison_id = c.id and j.chosen_response_id is not null and rv.decision is distinct from 'reject')
    order by c.id
    limit ${limit}`;
  const rows = await db.execute<TRow>(sql`
    with page as (${page})
    select t.comparison_id, c.external_id, c.gold_choice, t.votes_0, t.votes_1, t.weight_0, t.weight_1, ${verdictColumns}
    from (${tallySql(votesSql(projectId, weights, sql`j.comparison_id in (select id from page)`))}) t
    join comparisons c on c.id = t.comparison_id
    order by t.comparison_id`);
  const items = rows.map(toConsensus);
  return {
    weighting: options.weighting,
    equalWeights,
    items,
    nextCursor: items.length === limit ? items[items.length - 1]!.comparisonId : null,
  };
}

export interface TConflicts {
  /** All conflicts in the project (the list may be cut at `limit`). */
  total: number;
  items: TConsensus[];
}

/**
 * Comparisons for review under the majority rule: ties, then majorities holding less than 2/3
 * of the votes (a 2-1 split is not a conflict, 3-2 is), weakest agreement first. Gold items
 * are left out (see conflictingComparisonsSql).
 */
export async function listConflicts(db: TDb, projectId: number, options: { limit?: number } = {}): Promise<TConflicts> {
  const limit = Math.min(Math.max(Math.trunc(options.limit ?? 100), 1), 5000);
  const rows = await db.execute<TRow & { total: number }>(sql`
    select t.comparison_id, c.external_id, c.gold_choice, t.votes_0, t.votes_1, t.weight_0, t.weight_1, ${verdictColumns},
      count(*) over ()::int as total
    from (${tallySql(votesSql(projectId, null))}) t
    join comparisons c on c.id = t.comparison_id
    where c.gold_choice is null and ${conflictCondition}
    order by (t.votes_0 = t.votes_1) desc, greatest(t.votes_0, t.votes_1)::float8 / (t.votes_0 + t.votes_1), t.comparison_id
    limit ${limit}`);
  return { total: rows[0]?.total ?? 0, items: rows.map(toConsensus) };
}

/** How many comparisons of the project are conflicts (see listConflicts). */
export async function countConflicts(db: TDb, projectId: number): Promise<number> {
  const [row] = await db.execute<{ n: number }>(sql`select count(*)::int as n from (${conflictingComparisonsSql(projectId)}) x`);
  return row?.n ?? 0;
}

/**
 * Majority-rule verdicts of a project's pair comparisons, as a subquery: comparison_id, choice
 * (canonical position; null on a tie) and strength. `only` narrows the votes (a condition on
 * `j`), so that a dataset's filters also decide who votes.
 */
export function consensusVerdictsSql(projectId: number, only?: SQL): SQL {
  return sql`select t.comparison_id, ${verdictColumns} from (${tallySql(votesSql(projectId, null, only))}) t`;
}
