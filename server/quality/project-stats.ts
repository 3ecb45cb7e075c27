import { sql } from 'drizzle-orm';
import type { TDbHandle } from '@/db/client';
import { leaderboard } from '../ml/bradley-terry';
import type { TStrength } from '../annotation/strengths';
import { getProjectCounts } from '../projects/projects';
import { agreementByWeek, agreementReport, type TAgreementReport } from './agreement-report';
import { loadModelBattles } from './battles';
import { goldAccuracyByAnnotator } from './gold';
import { loadPairLabels } from './labels';

export interface TLeaderboardReport {
  models: { name: string; rating: number; low: number; high: number; elo: number; rank: number; battles: number; wins: number; losses: number; ties: number }[];
  /** Indexed like `names` (alphabetical), not by rank. */
  names: string[];
  winRates: (number | null)[][];
  battles: number[][];
  rounds: number;
}

export interface TProjectStats {
  counts: { comparisons: number; completeComparisons: number; judgments: number; judgmentsRequired: number; skipped: number; goldItems: number };
  perDay: { day: string; judgments: number }[];
  strengths: Record<TStrength, number>;
  agreement: TAgreementReport;
  agreementByWeek: { week: string; raw: number; pairs: number }[];
  gold: { items: number; annotators: { annotatorId: number; email: string; answered: number; correct: number; accuracy: number; flagged: boolean }[] };
  leaderboard: TLeaderboardReport;
  timings: Record<string, number>;
}

export interface TStatsOptions {
  /** Bootstrap rounds for agreement intervals (default 200) and the leaderboard (default 1,000). */
  agreementRounds?: number;
  leaderboardRounds?: number;
  round?: string;
  seed?: number;
  /** Leave the leaderboard out (it has its own figure in the stats benchmark). */
  leaderboard?: boolean;
}

async function timed<T>(timings: Record<string, number>, name: string, fn: () => Promise<T> | T): Promise<T> {
  const started = performance.now();
  try {
    return await fn();
  } finally {
    timings[name] = Math.round(performance.now() - started);
  }
}

/** The model leaderboard of a project (or one round of it): Bradley-Terry with bootstrap intervals, Elo, win rates. */
export async function projectLeaderboard(handle: TDbHandle, projectId: number, options: TStatsOptions = {}): Promise<TLeaderboardReport> {
  const battles = await loadModelBattles(handle.sql, projectId, { round: options.round });
  const rounds = options.leaderboardRounds ?? 1000;
  if (battles.models.length < 2 || battles.a.length === 0) return { models: [], names: battles.models, winRates: [], battles: [], rounds };
  const board = leaderboard(battles, battles.models.length, { rounds, seed: options.seed ?? 1 });
  return {
    models: board.models.map((m) => ({ name: battles.models[m.model]!, rating: m.rating, low: m.low, high: m.high, elo: m.elo, rank: m.rank, battles: m.battles, wins: m.wins, losses: m.losses, ties: m.ties })),
    names: battles.models,
    winRates: board.winRates,
    battles: board.battles,
    rounds,
  };
}

/**
 * Everything the dashboard and `npm run cli -- stats` show. Counting happens in SQL
 * aggregates; agreement and the leaderboard run on typed arrays loaded by single aggregate
 * queries, so a project of a million judgments takes seconds, not minutes.
 */
export async function getProjectStats(handle: TDbHandle, projectId: number, options: TStatsOptions = {}): Promise<TProjectStats> {
  const { db } = handle;
  const timings: Record<string, number> = {};
  const [counts, extra, perDay, strengthRows, gold, labels] = await Promise.all([
    timed(timings, 'counts', () => getProjectCounts(db, projectId)),
    timed(timings, 'extra', () =>
      db.execute<{ skipped: number; gold_items: number }>(sql`
        select (select count(*)::int from assignments a join comparisons c on c.id = a.comparison_id where c.project_id = ${projectId} and a.status = 'skipped') as skipped,
          (select count(*)::int from comparisons where project_id = ${projectId} and gold_choice is not null) as gold_items`),
    ),
    timed(timings, 'perDay', () =>
      db.execute<{ day: string; judgments: number }>(sql`
        select to_char(date_trunc('day', created_at), 'YYYY-MM-DD') as day, count(*)::int as judgments
        from judgments where project_id = ${projectId} and source is null and created_at >= now() - interval '90 days'
        group by 1 order by 1`),
    ),
    timed(timings, 'strengths', () =>
      db.execute<{ strength: TStrength; n: number }>(sql`
        select strength, count(*)::int as n from judgments where project_id = ${projectId} and strength is not null and source is null group by strength`),
    ),
    timed(timings, 'gold', () => goldAccuracyByAnnotator(db, projectId)),
    timed(timings, 'labels', () => loadPairLabels(handle.sql, projectId)),
  ]);
  const agreement = await timed(timings, 'agreement', () => agreementReport(labels, { rounds: options.agreementRounds, seed: options.seed }));
  const board =
    options.leaderboard === false
      ? { models: [], names: [], winRates: [], battles: [], rounds: 0 }
      : await timed(timings, 'leaderboard', () => projectLeaderboard(handle, projectId, options));
  const emails = new Map(
    (await db.execute<{ id: string; email: string }>(sql`select id, email from users where id = any(${`{${gold.map((g) => g.annotatorId).join(',')}}`}::bigint[])`)).map((r) => [Number(r.id), r.email]),
  );
  const strengths: Record<TStrength, number> = { significantly_better: 0, better: 0, slightly_better: 0, marginally_better: 0 };
  for (const row of strengthRows) strengths[row.strength] = row.n;
  return {
    counts: { ...counts, skipped: extra[0]?.skipped ?? 0, goldItems: extra[0]?.gold_items ?? 0 },
    perDay: [...perDay],
    strengths,
    agreement,
    agreementByWeek: agreementByWeek(labels),
    gold: { items: extra[0]?.gold_items ?? 0, annotators: gold.map((g) => ({ ...g, email: emails.get(g.annotatorId) ?? '' })) },
    leaderboard: board,
    timings,
  };
}
