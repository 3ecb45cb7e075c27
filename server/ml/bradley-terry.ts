/**
 * Model leaderboard from pairwise battles, as Chatbot Arena computes it: Bradley-Terry ratings
 * with 95 % bootstrap intervals, online Elo for reference, win-rate and battle-count matrices.
 * Pure and dependency-free (besides the seedable PRNG); the pieces live in ./leaderboard/:
 *
 * - battles.ts: input validation and aggregation into per-pair outcome counts; ties count ½ a
 *   win to each side everywhere.
 * - fit.ts: Bradley-Terry MLE (Newton with a tiny L2 prior for identifiability) and the rating
 *   scale, 1000 + 400·log10(p_i) with the mean at 1000 unless anchored.
 * - multinomial.ts: exact multinomial resampling of aggregated battles, so a bootstrap round
 *   costs O(M²) rather than O(battles).
 * - bootstrap.ts: percentile intervals, per-model tallies and the one-call `leaderboard`.
 * - elo.ts: online Elo in battle order.
 *
 * Matrices are row-major `Float64Array`s of M × M: `m[i * M + j]` is about i against j.
 */
export {
  aggregateBattles,
  battleCounts,
  winRateMatrix,
  winsMatrix,
  type TBattles,
  type TModelTally,
  type TPairTable,
} from './leaderboard/battles';
export { computeElo, type TEloOptions } from './leaderboard/elo';
export { fitBradleyTerry, toRatings, type TBradleyTerryFit, type TFitOptions, type TRatingScale } from './leaderboard/fit';
export { sampleBinomial, sampleMultinomial } from './leaderboard/multinomial';
export {
  bootstrapLeaderboard,
  leaderboard,
  type TBootstrapOptions,
  type TLeaderboard,
  type TLeaderboardEntry,
  type TLeaderboardOptions,
} from './leaderboard/bootstrap';
