import type { TDbHandle } from '@/db/client';
import { strengths, type TStrength } from '../annotation/strengths';
import { perCoderAgreement } from '../ml/agreement';
import { binomialTest } from '../ml/binomial';
import { goldAccuracyByAnnotator } from './gold';
import { loadPairLabels } from './labels';

/**
 * When an annotator's figures are flagged. Each flag needs enough judgments to mean something;
 * below that, chance alone produces "always the same side" or a single strength.
 */
export const anomalyThresholds = {
  /** Median time per judgment under this, with at least `minJudgments`: probably not reading. */
  tooFast: { medianMsBelow: 4_000, minJudgments: 20 },
  /**
   * Position bias: a left-choice rate outside [low, high] that a fair coin would produce with
   * probability under `pValueBelow` (two-sided exact binomial test), over at least `minPairs` pair
   * judgments. Both conditions: with thousands of judgments a 52% rate is "significant" but harmless.
   */
  sameSide: { pValueBelow: 0.001, leftRateLow: 0.2, leftRateHigh: 0.8, minPairs: 20 },
  /** One strength level in at least this share of the judgments that have a strength, with at least `minJudgments` of them. */
  sameStrength: { shareAtLeast: 0.9, minJudgments: 20 },
} as const;

export const anomalyFlags = ['too_fast', 'same_side', 'same_strength', 'low_gold'] as const;
export type TAnomalyFlag = (typeof anomalyFlags)[number];

/** Days in `perDay`, today included. */
export const PER_DAY_DAYS = 30;

export interface TAnnotatorStats {
  annotatorId: number;
  email: string;
  name: string | null;
  judgments: number;
  /** Judgments since midnight (the database's time zone, as the annotation page's counter). */
  today: number;
  /** The last PER_DAY_DAYS days, oldest first, days without judgments included. */
  perDay: { day: string; judgments: number }[];
  firstAt: string | null;
  lastAt: string | null;
  /** Median time spent per judgment (all judgments), null without judgments. */
  medianTimeMs: number | null;
  /** Pair judgments only: how often the response shown on the left was chosen. */
  position: { pairs: number; left: number; leftRate: number | null; pValue: number | null };
  /** Counts of pair judgments by strength (rankings carry their strengths per adjacent rank and are not counted). */
  strengths: Record<TStrength, number>;
  /** Judgments with an edit, and their share of all judgments. */
  edits: number;
  editRate: number | null;
  skips: number;
  /** Null until they have answered a gold item. */
  gold: { answered: number; correct: number; accuracy: number; flagged: boolean } | null;
  /**
   * Raw agreement of their choice with the other annotators' choices on the same pair
   * comparisons (perCoderAgreement), over `pairs` (their label, another label) pairs; null when
   * nobody else judged the comparisons they judged.
   */
  agreement: { rate: number | null; pairs: number };
  flags: TAnomalyFlag[];
}

interface TAggregateRow {
  annotator_id: string;
  email: string;
  name: string | null;
  judgments: number;
  today: number;
  first_at: Date | null;
  last_at: Date | null;
  median_ms: number | null;
  pairs: number;
  left_choices: number;
  significantly_better: number;
  better: number;
  slightly_better: number;
  marginally_better: number;
  edits: number;
  skips: number;
}

/**
 * Per-annotator figures of a project: everyone who judged or skipped in it or is one of its
 * annotators, or only `annotatorId` (who then always has a row, zeros included). Every count,
 * the median and the per-day series are SQL aggregates; agreement runs on the typed arrays of
 * `loadPairLabels`; JavaScript only assembles one small row per annotator.
 */
export async function annotatorStats(handle: TDbHandle, projectId: number, options: { annotatorId?: number } = {}): Promise<TAnnotatorStats[]> {
  const { sql } = handle;
  const only = options.annotatorId ?? null;
  // Two statements rather than `$2 is null or annotator_id = $2`, which a cached generic plan cannot serve from the index.
  const forJudgments = only === null ? sql`` : sql`and annotator_id = ${only}`;
  const forSkips = only === null ? sql`` : sql`and a.annotator_id = ${only}`;
  const who =
    only === null
      ? sql`select annotator_id from j union select annotator_id from s
          union select user_id from project_members where project_id = ${projectId} and role = 'annotator'`
      : sql`select ${only}::bigint as annotator_id`;
  const [rows, days, [clock], gold, labels] = await Promise.all([
    sql<TAggregateRow[]>`
      with j as (
        -- Grouped by an expression on purpose: grouping by the bare column makes PostgreSQL walk
        -- the (annotator_id, created_at) index, a random heap read per judgment (about 3x slower
        -- at 1M judgments than one sequential scan and a sort).
        select annotator_id + 0 as annotator_id,
          count(*)::int as judgments,
          count(*) filter (where created_at >= date_trunc('day', now()))::int as today,
          min(created_at) as first_at, max(created_at) as last_at,
          percentile_cont(0.5) within group (order by time_spent_ms)::float8 as median_ms,
          count(*) filter (where chosen_position is not null)::int as pairs,
          count(*) filter (where chosen_position = 0)::int as left_choices,
          count(*) filter (where strength = 'significantly_better')::int as significantly_better,
          count(*) filter (where strength = 'better')::int as better,
          count(*) filter (where strength = 'slightly_better')::int as slightly_better,
          count(*) filter (where strength = 'marginally_better')::int as marginally_better,
          count(*) filter (where edited_response_id is not null)::int as edits
        from judgments
        -- Imported labels (source set) are nobody's work here.
        where project_id = ${projectId} and source is null ${forJudgments}
        group by annotator_id + 0),
      s as (
        select a.annotator_id, count(*)::int as skips
        from assignments a join comparisons c on c.id = a.comparison_id
        where c.project_id = ${projectId} and a.status = 'skipped' ${forSkips}
        group by a.annotator_id),
      who as (${who})
      select u.id as annotator_id, u.email, u.name,
        coalesce(j.judgments, 0) as judgments, coalesce(j.today, 0) as today, j.first_at, j.last_at, j.median_ms,
        coalesce(j.pairs, 0) as pairs, coalesce(j.left_choices, 0) as left_choices,
        coalesce(j.significantly_better, 0) as significantly_better, coalesce(j.better, 0) as better,
        coalesce(j.slightly_better, 0) as slightly_better, coalesce(j.marginally_better, 0) as marginally_better,
        coalesce(j.edits, 0) as edits, coalesce(s.skips, 0) as skips
      from who join users u on u.id = who.annotator_id
      left join j on j.annotator_id = who.annotator_id
      left join s on s.annotator_id = who.annotator_id
      order by u.email`,
    sql<{ annotator_id: string; day: string; judgments: number }[]>`
      select annotator_id, to_char(date_trunc('day', created_at), 'YYYY-MM-DD') as day, count(*)::int as judgments
      from judgments
      where project_id = ${projectId} and source is null ${forJudgments}
        and created_at >= date_trunc('day', now()) - make_interval(days => ${PER_DAY_DAYS - 1})
      group by annotator_id, date_trunc('day', created_at)`,
    sql<{ today: string }[]>`select to_char(now(), 'YYYY-MM-DD') as today`,
    goldAccuracyByAnnotator(handle.db, projectId),
    loadPairLabels(sql, projectId),
  ]);

  const dayLabels = lastDays(clock!.today, PER_DAY_DAYS);
  const perDay = new Map<number, Map<string, number>>();
  for (const d of days) {
    const id = Number(d.annotator_id);
    if (!perDay.has(id)) perDay.set(id, new Map());
    perDay.get(id)!.set(d.day, d.judgments);
  }
  const goldById = new Map(gold.map((g) => [g.annotatorId, g]));
  const agreementById = new Map(perCoderAgreement(labels).map((a) => [labels.coderIds[a.coder]!, a]));

  return rows.map((r) => {
    const annotatorId = Number(r.annotator_id);
    const counts = Object.fromEntries(strengths.map((s) => [s, r[s]])) as Record<TStrength, number>;
    const g = goldById.get(annotatorId);
    const a = agreementById.get(annotatorId);
    const mine = perDay.get(annotatorId);
    const stats: Omit<TAnnotatorStats, 'flags'> = {
      annotatorId,
      email: r.email,
      name: r.name,
      judgments: r.judgments,
      today: r.today,
      perDay: dayLabels.map((day) => ({ day, judgments: mine?.get(day) ?? 0 })),
      firstAt: r.first_at ? new Date(r.first_at).toISOString() : null,
      lastAt: r.last_at ? new Date(r.last_at).toISOString() : null,
      medianTimeMs: r.median_ms === null ? null : Number(r.median_ms),
      position: {
        pairs: r.pairs,
        left: r.left_choices,
        leftRate: r.pairs ? r.left_choices / r.pairs : null,
        pValue: r.pairs ? binomialTest(r.left_choices, r.pairs) : null,
      },
      strengths: counts,
      edits: r.edits,
      editRate: r.judgments ? r.edits / r.judgments : null,
      skips: r.skips,
      gold: g ? { answered: g.answered, correct: g.correct, accuracy: g.accuracy, flagged: g.flagged } : null,
      agreement: { rate: a && a.pairs > 0 ? a.agreement : null, pairs: a?.pairs ?? 0 },
    };
    return { ...stats, flags: anomaliesOf(stats) };
  });
}

/** What an annotator sees of their own figures: no contact details, no gold, no agreement. */
export type TOwnStats = Omit<TAnnotatorStats, 'email' | 'name' | 'gold' | 'agreement'>;

/**
 * An annotator's own view. Gold accuracy and agreement change right after the one judgment that
 * moved them, so showing them (or the low_gold flag) would tell the annotator which item was gold
 * and its expected answer, or how other annotators labelled the item just judged: answers they
 * could pass on. Delaying, thresholding or rounding the figures only makes that rarer, and a
 * figure seen a day late helps nobody judge better; admins see both and coach from them.
 */
export function ownStats(stats: TAnnotatorStats): TOwnStats {
  const { email: _email, name: _name, gold: _gold, agreement: _agreement, flags, ...rest } = stats;
  return { ...rest, flags: flags.filter((flag) => flag !== 'low_gold') };
}

/** The anomaly flags of one annotator's figures, by `anomalyThresholds` (and gold.ts for gold). */
export function anomaliesOf(s: Pick<TAnnotatorStats, 'judgments' | 'medianTimeMs' | 'position' | 'strengths' | 'gold'>): TAnomalyFlag[] {
  const t = anomalyThresholds;
  const flags: TAnomalyFlag[] = [];
  if (s.judgments >= t.tooFast.minJudgments && s.medianTimeMs !== null && s.medianTimeMs < t.tooFast.medianMsBelow) flags.push('too_fast');
  const { pairs, leftRate, pValue } = s.position;
  if (
    pairs >= t.sameSide.minPairs &&
    leftRate !== null &&
    pValue !== null &&
    pValue < t.sameSide.pValueBelow &&
    (leftRate < t.sameSide.leftRateLow || leftRate > t.sameSide.leftRateHigh)
  ) {
    flags.push('same_side');
  }
  const rated = strengths.reduce((sum, level) => sum + s.strengths[level], 0);
  const top = Math.max(...strengths.map((level) => s.strengths[level]));
  if (rated >= t.sameStrength.minJudgments && top >= t.sameStrength.shareAtLeast * rated) flags.push('same_strength');
  if (s.gold?.flagged) flags.push('low_gold');
  return flags;
}

/** `count` calendar days ending with `today` (YYYY-MM-DD), oldest first; plain date arithmetic, no time zones. */
function lastDays(today: string, count: number): string[] {
  const [y, m, d] = today.split('-').map(Number) as [number, number, number];
  return Array.from({ length: count }, (_, i) => new Date(Date.UTC(y, m - 1, d - (count - 1 - i))).toISOString().slice(0, 10));
}
