import { describe, expect, it } from 'vitest';
import {
  aggregateBattles,
  battleCounts,
  bootstrapLeaderboard,
  computeElo,
  fitBradleyTerry,
  leaderboard,
  sampleBinomial,
  sampleMultinomial,
  winRateMatrix,
  winsMatrix,
  type TBattles,
} from '@/server/ml/bradley-terry';
import { createRng } from '@/server/ml/random';

const ratingPerNat = 400 / Math.LN10;

function battlesOf(rows: [number, number, number][]): TBattles {
  return {
    a: Int32Array.from(rows, (r) => r[0]),
    b: Int32Array.from(rows, (r) => r[1]),
    outcome: Float32Array.from(rows, (r) => r[2]),
  };
}

/** `count` copies of the same battle. */
function repeat(a: number, b: number, outcome: number, count: number): [number, number, number][] {
  return Array.from({ length: count }, () => [a, b, outcome]);
}

/** Battles between uniformly random distinct pairs, outcomes drawn from the BT model on `truth` (rating points). */
function simulate(truth: number[], count: number, seed: number): TBattles {
  const rng = createRng(seed);
  const M = truth.length;
  const battles: TBattles = { a: new Int32Array(count), b: new Int32Array(count), outcome: new Float32Array(count) };
  for (let r = 0; r < count; r++) {
    const i = rng.int(M);
    let j = rng.int(M - 1);
    if (j >= i) j++;
    battles.a[r] = i;
    battles.b[r] = j;
    const pWin = 1 / (1 + 10 ** ((truth[j]! - truth[i]!) / 400));
    battles.outcome[r] = rng.float() < pWin ? 1 : 0;
  }
  return battles;
}

/** 8 true ratings evenly over 300 points, mean 1000 (the scale the fit reports). */
const truth8 = Array.from({ length: 8 }, (_, i) => 1000 + (i - 3.5) * (300 / 7));

describe('fitBradleyTerry', () => {
  it('puts a 75 % win rate 400·log10(3) ≈ 190.8 points apart, centred on 1000', () => {
    const fit = fitBradleyTerry(Float64Array.of(0, 75, 25, 0), 2);
    expect(fit.converged).toBe(true);
    expect(fit.ratings[0]! - fit.ratings[1]!).toBeCloseTo(400 * Math.log10(3), 4);
    expect(fit.ratings[0]! - fit.ratings[1]!).toBeCloseTo(190.8485, 3);
    expect((fit.ratings[0]! + fit.ratings[1]!) / 2).toBeCloseTo(1000, 9);
    expect(fit.logStrengths[0]! - fit.logStrengths[1]!).toBeCloseTo(Math.log(3), 6);
  });

  it('counts a tie as half a win to each side', () => {
    // 50 wins + 50 ties = 75 : 25 after splitting the ties.
    const battles = battlesOf([...repeat(0, 1, 1, 50), ...repeat(1, 0, 0.5, 50)]);
    const wins = winsMatrix(battles, 2);
    expect(Array.from(wins)).toEqual([0, 75, 25, 0]);
    const fit = fitBradleyTerry(wins, 2);
    expect(fit.ratings[0]! - fit.ratings[1]!).toBeCloseTo(400 * Math.log10(3), 4);
  });

  it('gives equal ratings to symmetric data', () => {
    // Every pair 10 : 10, and a rock-paper-scissors cycle: both carry no preference.
    const even = new Float64Array(9).fill(10);
    for (const k of [0, 4, 8]) even[k] = 0;
    const cycle = Float64Array.of(0, 7, 3, 3, 0, 7, 7, 3, 0);
    for (const wins of [even, cycle]) {
      const fit = fitBradleyTerry(wins, 3);
      for (const rating of fit.ratings) expect(rating).toBeCloseTo(1000, 8);
    }
  });

  it('recovers a transitive order', () => {
    // Model i beats model j > i in 60 % of 50 battles: ratings must fall with the index.
    const M = 6;
    const wins = new Float64Array(M * M);
    for (let i = 0; i < M; i++) {
      for (let j = i + 1; j < M; j++) {
        wins[i * M + j] = 30;
        wins[j * M + i] = 20;
      }
    }
    const { ratings } = fitBradleyTerry(wins, M);
    for (let i = 1; i < M; i++) expect(ratings[i]!).toBeLessThan(ratings[i - 1]! - 10);
  });

  it('agrees with plain gradient ascent on the unpenalised likelihood', () => {
    const M = 4;
    const wins = Float64Array.of(0, 7, 3, 5, 3, 0, 6, 2, 2, 4, 0, 8, 1, 5, 2, 0);
    const theta = new Float64Array(M);
    for (let step = 0; step < 20_000; step++) {
      const gradient = new Float64Array(M);
      for (let i = 0; i < M; i++) {
        for (let j = 0; j < M; j++) {
          if (i === j) continue;
          const s = 1 / (1 + Math.exp(theta[j]! - theta[i]!));
          gradient[i]! += wins[i * M + j]! * (1 - s) - wins[j * M + i]! * s;
        }
      }
      for (let i = 0; i < M; i++) theta[i]! += 0.01 * gradient[i]!;
    }
    const mean = theta.reduce((sum, t) => sum + t, 0) / M;
    const fit = fitBradleyTerry(wins, M);
    for (let i = 0; i < M; i++) {
      expect(fit.logStrengths[i]!).toBeCloseTo(theta[i]! - mean, 6);
      expect(fit.ratings[i]!).toBeCloseTo(1000 + ratingPerNat * (theta[i]! - mean), 4);
    }
  });

  it('stays finite for a model without battles and an undefeated one', () => {
    // Model 0 never lost, model 3 never played.
    const M = 4;
    const wins = new Float64Array(M * M);
    wins[0 * M + 1] = 5;
    wins[0 * M + 2] = 5;
    wins[1 * M + 2] = 6;
    wins[2 * M + 1] = 4;
    const fit = fitBradleyTerry(wins, M);
    expect(fit.converged).toBe(true);
    for (const r of fit.ratings) expect(Number.isFinite(r)).toBe(true);
    expect(fit.logStrengths[3]).toBeCloseTo(0, 9);
    expect(fit.ratings[0]!).toBeGreaterThan(fit.ratings[1]! + 1000);
    expect(fit.ratings[1]!).toBeGreaterThan(fit.ratings[2]!);
  });

  it('pins a model with an anchor without changing differences', () => {
    const wins = Float64Array.of(0, 6, 9, 4, 0, 5, 1, 5, 0);
    const centred = fitBradleyTerry(wins, 3);
    const anchored = fitBradleyTerry(wins, 3, { anchor: { model: 1, rating: 1114 } });
    expect(anchored.ratings[1]).toBeCloseTo(1114, 9);
    for (let i = 0; i < 3; i++) expect(anchored.ratings[i]! - centred.ratings[i]!).toBeCloseTo(1114 - centred.ratings[1]!, 9);
  });

  it('rejects malformed input', () => {
    expect(() => fitBradleyTerry(new Float64Array(3), 2)).toThrow(RangeError);
    expect(() => fitBradleyTerry(Float64Array.of(0, -1, 1, 0), 2)).toThrow(RangeError);
    expect(() => fitBradleyTerry(Float64Array.of(0, 1, 1, 0), 2, { prior: 0 })).toThrow(RangeError);
    expect(() => aggregateBattles(battlesOf([[0, 2, 1]]), 2)).toThrow(/out of range/);
    expect(() => aggregateBattles(battlesOf([[1, 1, 1]]), 2)).toThrow(/itself/);
    expect(() => aggregateBattles(battlesOf([[0, 1, 0.3]]), 2)).toThrow(/outcome/);
  });
});

describe('winRateMatrix and battleCounts', () => {
  it('reports shares won (ties ½) and battles per pair, NaN where models never met', () => {
    const battles = battlesOf([[0, 1, 1], [0, 1, 1], [1, 0, 1], [2, 0, 0.5]]);
    const wins = winsMatrix(battles, 3);
    expect(Array.from(battleCounts(wins, 3))).toEqual([0, 3, 1, 3, 0, 0, 1, 0, 0]);
    const rates = winRateMatrix(wins, 3);
    expect(rates[0 * 3 + 1]).toBeCloseTo(2 / 3, 12);
    expect(rates[1 * 3 + 0]).toBeCloseTo(1 / 3, 12);
    expect(rates[0 * 3 + 2]).toBe(0.5);
    expect(rates[1 * 3 + 2]).toBeNaN();
    expect(rates[0]).toBeNaN();
  });
});

describe('computeElo', () => {
  it('matches a sequence computed by hand', () => {
    // K = 4, scale 400, start 1000.
    // 1. 0 beats 1: E = 0.5, so 0 → 1002, 1 → 998.
    // 2. 1 beats 0: E_0 = 1 / (1 + 10^(−4/400)) = 0.50575621, Δ = 4·E_0 = 2.02302483.
    // 3. 2 ties 0 (999.97697517): E_2 = 1 / (1 + 10^(−0.02302483/400)) = 0.50003314, Δ = 4·(0.5 − E_2) = −0.00013254.
    const elo = computeElo(Int32Array.of(0, 0, 2), Int32Array.of(1, 1, 0), Float32Array.of(1, 0, 0.5), 3, { k: 4, base: 1000, scale: 400 });
    expect(elo[0]).toBeCloseTo(999.97710771, 6);
    expect(elo[1]).toBeCloseTo(1000.02302483, 6);
    expect(elo[2]).toBeCloseTo(999.99986746, 6);
    // Elo is zero-sum.
    expect(elo[0]! + elo[1]! + elo[2]!).toBeCloseTo(3000, 9);
  });
});

describe('sampleBinomial and sampleMultinomial', () => {
  it('follow the binomial distribution (both the inversion and the BTRS branch)', () => {
    const rng = createRng(11);
    for (const [n, p] of [[40, 0.1], [200, 0.35], [200, 0.8]] as const) {
      const draws = 50_000;
      const observed = new Float64Array(n + 1);
      for (let k = 0; k < draws; k++) observed[sampleBinomial(rng, n, p)]! += 1;
      // Chi-square over bins with an expected count of at least 20.
      let logPmf = n * Math.log1p(-p);
      let chi2 = 0;
      let bins = 0;
      for (let x = 0; x <= n; x++) {
        if (x > 0) logPmf += Math.log(((n - x + 1) / x) * (p / (1 - p)));
        const expected = draws * Math.exp(logPmf);
        if (expected < 20) continue;
        chi2 += (observed[x]! - expected) ** 2 / expected;
        bins++;
      }
      // Roughly the 99.9th percentile of chi-square with `bins` degrees of freedom.
      expect(chi2).toBeLessThan(bins + 4.5 * Math.sqrt(2 * bins));
    }
  });

  it('draws exactly n items, none into empty cells, reproducibly for a seed', () => {
    const weights = Float64Array.of(500_000, 0, 3, 250_000, 249_997);
    const first = new Float64Array(5);
    const second = new Float64Array(5);
    sampleMultinomial(createRng(5), 1_000_000, weights, first);
    sampleMultinomial(createRng(5), 1_000_000, weights, second);
    expect(first.reduce((s, x) => s + x, 0)).toBe(1_000_000);
    expect(first[1]).toBe(0);
    expect(Array.from(first)).toEqual(Array.from(second));
    expect(Math.abs(first[0]! - 500_000)).toBeLessThan(5 * 500);
  });
});

describe('bootstrapLeaderboard', () => {
  it('is deterministic for a seed, sorted, with tallies and intervals around the rating', () => {
    const battles = simulate(truth8, 3_000, 1);
    const run = () => bootstrapLeaderboard(battles, 8, { rounds: 100, seed: 42 });
    const entries = run();
    expect(run()).toEqual(entries);
    expect(bootstrapLeaderboard(battles, 8, { rounds: 100, seed: 43 })).not.toEqual(entries);
    for (let k = 1; k < entries.length; k++) expect(entries[k]!.rating).toBeLessThanOrEqual(entries[k - 1]!.rating);
    let total = 0;
    for (const e of entries) {
      expect(e.low).toBeLessThan(e.rating);
      expect(e.high).toBeGreaterThan(e.rating);
      expect(e.wins + e.losses + e.ties).toBe(e.battles);
      total += e.battles;
    }
    expect(total).toBe(2 * 3_000);
    expect(entries[0]!.rank).toBe(1);
  });

  it('recovers the true order of 8 simulated models, swapping only models closer than their intervals', () => {
    const entries = bootstrapLeaderboard(simulate(truth8, 20_000, 2), 8, { rounds: 300, seed: 3 });
    for (const e of entries) expect(Math.abs(e.rating - truth8[e.model]!)).toBeLessThan(25);
    for (let x = 0; x < entries.length; x++) {
      for (let y = x + 1; y < entries.length; y++) {
        const above = entries[x]!;
        const below = entries[y]!;
        if (truth8[above.model]! > truth8[below.model]!) continue;
        const gap = truth8[below.model]! - truth8[above.model]!;
        expect(gap).toBeLessThan(Math.max(above.high - above.low, below.high - below.low));
      }
    }
  });

  it('has 95 % intervals that cover the true centred ratings at about the nominal rate', () => {
    let covered = 0;
    let intervals = 0;
    for (let seed = 1; seed <= 100; seed++) {
      const entries = bootstrapLeaderboard(simulate(truth8, 2_000, 1000 + seed), 8, { rounds: 200, seed });
      for (const e of entries) {
        intervals++;
        if (e.low <= truth8[e.model]! && truth8[e.model]! <= e.high) covered++;
      }
    }
    const rate = covered / intervals;
    expect(rate).toBeGreaterThanOrEqual(0.85);
    expect(rate).toBeLessThanOrEqual(0.99);
  });
});

describe('leaderboard', () => {
  it('returns sorted models with Elo, and JSON-friendly matrices indexed by model', () => {
    const battles = battlesOf([...repeat(0, 1, 1, 30), ...repeat(1, 0, 1, 10), ...repeat(1, 2, 0.5, 8), ...repeat(2, 1, 1, 4)]);
    const board = leaderboard(battles, 4, { rounds: 50, seed: 1 });
    // Model 3 never played, so it sits at the mean of its own (empty) group: θ = 0.
    expect(board.models.map((m) => m.model)).toEqual([0, 2, 3, 1]);
    expect(board.models[0]!.elo).toBeGreaterThan(1000);
    expect(board.battles[0]).toEqual([0, 40, 0, 0]);
    expect(board.battles[1]).toEqual([40, 0, 12, 0]);
    expect(board.winRates[0]![1]).toBeCloseTo(0.75, 12);
    expect(board.winRates[2]![1]).toBeCloseTo(8 / 12, 12);
    expect(board.winRates[0]![2]).toBeNull();
    expect(board.winRates[3]![3]).toBeNull();
    const model3 = board.models.find((m) => m.model === 3)!;
    expect(model3.battles).toBe(0);
    for (const value of [model3.rating, model3.low, model3.high]) expect(value).toBeCloseTo(1000, 9);
    expect(JSON.parse(JSON.stringify(board))).toEqual(board);
  });
});
