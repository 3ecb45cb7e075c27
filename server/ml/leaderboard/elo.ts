/**
 * Online Elo in battle order, as Chatbot Arena's `compute_online_elo` (K = 4, base-10 logistic,
 * 400-point scale, everyone starting at 1000). Reference only: it depends on the order of
 * battles and weights recent ones more, so the leaderboard's rating is the Bradley-Terry fit.
 */
import { validateBattles, type TBattles } from './battles';

export interface TEloOptions {
  /** Step size; default 4. */
  k?: number;
  /** Starting rating for every model; default 1000. */
  base?: number;
  /** Points per factor of 10 in odds; default 400. */
  scale?: number;
}

/**
 * For each battle, E_a = 1 / (1 + 10^((R_b − R_a) / scale)), then
 * R_a += k·(S_a − E_a) and R_b += k·((1 − S_a) − (1 − E_a)), S_a being the outcome (tie = ½).
 */
export function computeElo(a: Int32Array, b: Int32Array, outcome: Float32Array, modelCount: number, options: TEloOptions = {}): Float64Array {
  const battles: TBattles = { a, b, outcome };
  validateBattles(battles, modelCount);
  const k = options.k ?? 4;
  const scale = options.scale ?? 400;
  const ratings = new Float64Array(modelCount).fill(options.base ?? 1000);
  for (let r = 0; r < a.length; r++) {
    const i = a[r]!;
    const j = b[r]!;
    const expectedA = 1 / (1 + 10 ** ((ratings[j]! - ratings[i]!) / scale));
    const delta = k * (outcome[r]! - expectedA);
    ratings[i]! += delta;
    ratings[j]! -= delta;
  }
  return ratings;
}
