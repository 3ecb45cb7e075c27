/**
 * Bootstrap confidence intervals and the one-call leaderboard.
 *
 * Each round resamples the battles with replacement (drawn exactly as a multinomial over the
 * aggregated cells, see ./multinomial) and refits Bradley-Terry, warm-started from the full-data
 * fit. A model's `rating` is the full-data MLE; `low` / `high` are the 2.5th / 97.5th
 * percentiles of its bootstrap ratings (linear interpolation between order statistics, numpy's
 * default). Ratings in every round are put on the same scale (mean 1000, or the anchor), so
 * intervals describe a model's position relative to the field, the quantity the leaderboard shows.
 */
import { createRng } from '../random';
import { aggregateBattles, battleCounts, pairTableToWins, tallyModels, winRateMatrix, type TBattles, type TModelTally, type TPairTable } from './battles';
import { computeElo, type TEloOptions } from './elo';
import { fitPairs, type TFitOptions, type TPairWins } from './fit';
import { sampleMultinomial } from './multinomial';

export interface TBootstrapOptions extends Omit<TFitOptions, 'initial'> {
  /** Resampling rounds; default 1000. */
  rounds?: number;
  /** Any safe integer; the same seed and data give the same intervals. Default 0. */
  seed?: number;
}

export interface TLeaderboardEntry extends TModelTally {
  model: number;
  rating: number;
  /** 2.5th percentile of the bootstrap ratings. */
  low: number;
  /** 97.5th percentile of the bootstrap ratings. */
  high: number;
  logStrength: number;
  /**
   * Chatbot Arena's "rank (UB)": 1 + the number of models whose `low` is above this model's
   * `high`, i.e. models it is clearly behind. Models with overlapping intervals share ranks.
   */
  rank: number;
}

export interface TLeaderboardOptions extends TBootstrapOptions {
  elo?: TEloOptions;
}

export interface TLeaderboard {
  /** Sorted by rating, best first; `elo` is the online Elo, for reference. */
  models: (TLeaderboardEntry & { elo: number })[];
  /** `winRates[i][j]`: share of i's battles against j that i won (ties ½); null if they never met. Indexed by model, not rank. */
  winRates: (number | null)[][];
  /** `battles[i][j]`: battles between i and j. Indexed by model, not rank. */
  battles: number[][];
}

/** Type-7 percentile of an ascending-sorted slice `values[start .. start + n)`. */
function percentile(values: Float64Array, start: number, n: number, q: number): number {
  const h = (n - 1) * q;
  const below = Math.floor(h);
  const above = Math.min(below + 1, n - 1);
  const lower = values[start + below]!;
  return lower + (h - below) * (values[start + above]! - lower);
}

function bootstrapTable(table: TPairTable, options: TBootstrapOptions): TLeaderboardEntry[] {
  const M = table.modelCount;
  const rounds = options.rounds ?? 1000;
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a positive integer, got ${rounds}`);
  const rng = createRng(options.seed ?? 0);
  const { rounds: _rounds, seed: _seed, ...fitOptions } = options;

  const pairs: TPairWins = { lo: table.lo, hi: table.hi, wLo: new Float64Array(table.lo.length), wHi: new Float64Array(table.lo.length) };
  const fillPairs = (counts: Float64Array) => {
    for (let p = 0; p < table.lo.length; p++) {
      const half = counts[3 * p + 2]! / 2;
      pairs.wLo[p] = counts[3 * p]! + half;
      pairs.wHi[p] = counts[3 * p + 1]! + half;
    }
  };
  fillPairs(table.cells);
  const full = fitPairs(pairs, M, fitOptions);

  // Model-major so each model's samples can be sorted in place.
  const samples = new Float64Array(M * rounds);
  const counts = new Float64Array(table.cells.length);
  for (let r = 0; r < rounds; r++) {
    sampleMultinomial(rng, table.total, table.cells, counts);
    fillPairs(counts);
    const fit = fitPairs(pairs, M, { ...fitOptions, initial: full.logStrengths });
    for (let i = 0; i < M; i++) samples[i * rounds + r] = fit.ratings[i]!;
  }

  const tallies = tallyModels(table);
  const entries: TLeaderboardEntry[] = [];
  for (let i = 0; i < M; i++) {
    const column = samples.subarray(i * rounds, (i + 1) * rounds);
    column.sort();
    entries.push({
      model: i,
      rating: full.ratings[i]!,
      low: percentile(column, 0, rounds, 0.025),
      high: percentile(column, 0, rounds, 0.975),
      logStrength: full.logStrengths[i]!,
      rank: 1,
      ...tallies[i]!,
    });
  }
  for (const entry of entries) {
    entry.rank = 1 + entries.filter((other) => other.low > entry.high).length;
  }
  return entries.sort((x, y) => y.rating - x.rating || x.model - y.model);
}

/** Bradley-Terry ratings with 95 % bootstrap intervals and per-model tallies, best first. */
export function bootstrapLeaderboard(battles: TBattles, modelCount: number, options: TBootstrapOptions = {}): TLeaderboardEntry[] {
  return bootstrapTable(aggregateBattles(battles, modelCount), options);
}

function toRows(matrix: Float64Array, M: number): (number | null)[][] {
  return Array.from({ length: M }, (_, i) => Array.from(matrix.subarray(i * M, (i + 1) * M), (v) => (Number.isNaN(v) ? null : v)));
}

/** Everything the leaderboard page and the CLI show, as plain JSON-friendly values. */
export function leaderboard(battles: TBattles, modelCount: number, options: TLeaderboardOptions = {}): TLeaderboard {
  const table = aggregateBattles(battles, modelCount);
  const { elo: eloOptions, ...bootstrapOptions } = options;
  const entries = bootstrapTable(table, bootstrapOptions);
  const elo = computeElo(battles.a, battles.b, battles.outcome, modelCount, eloOptions);
  const wins = pairTableToWins(table);
  return {
    models: entries.map((entry) => ({ ...entry, elo: elo[entry.model]! })),
    winRates: toRows(winRateMatrix(wins, modelCount), modelCount),
    battles: toRows(battleCounts(wins, modelCount), modelCount).map((row) => row.map((v) => v ?? 0)),
  };
}
