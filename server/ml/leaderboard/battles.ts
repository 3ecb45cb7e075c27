/**
 * Battle input and the aggregated tables everything else is computed from.
 *
 * A leaderboard over ~1M battles is refitted 1,000 times for the bootstrap, so nothing after
 * aggregation looks at individual battles again: the Bradley-Terry likelihood depends on the
 * data only through, for each unordered pair of models, how many battles ended in each of the
 * three outcomes. Matrices are row-major `Float64Array`s of `M × M` (`m[i * M + j]`).
 */

/** Battles in column form; row `r` is model `a[r]` against model `b[r]`. */
export interface TBattles {
  a: Int32Array;
  b: Int32Array;
  /** 1 = `a` won, 0 = `b` won, 0.5 = tie. Any other value is rejected. */
  outcome: Float32Array;
}

/**
 * Battle counts per unordered pair `lo < hi` that met at least once, as parallel arrays.
 * `cells` holds, for pair `p`, `[loWins, hiWins, ties]` at `3p .. 3p + 2`: these are the
 * multinomial cells the bootstrap resamples. Counts are whole battles (ties not yet split).
 */
export interface TPairTable {
  modelCount: number;
  lo: Int32Array;
  hi: Int32Array;
  cells: Float64Array;
  /** Number of battles (the sum of `cells`). */
  total: number;
}

/** Per-model tallies; a tie is counted once in `ties` and in neither `wins` nor `losses`. */
export interface TModelTally {
  battles: number;
  wins: number;
  losses: number;
  ties: number;
}

export function assertModelCount(modelCount: number): void {
  if (!Number.isInteger(modelCount) || modelCount < 1) {
    throw new RangeError(`modelCount must be a positive integer, got ${modelCount}`);
  }
}

export function assertSquare(matrix: Float64Array, modelCount: number, name: string): void {
  assertModelCount(modelCount);
  if (matrix.length !== modelCount * modelCount) {
    throw new RangeError(`${name} must have modelCount² = ${modelCount * modelCount} entries, got ${matrix.length}`);
  }
}

/** Rejects what would otherwise become silent garbage: bad indexes, self-battles, odd outcomes. */
export function validateBattles(battles: TBattles, modelCount: number): void {
  assertModelCount(modelCount);
  const { a, b, outcome } = battles;
  if (a.length !== b.length || a.length !== outcome.length) {
    throw new RangeError(`a, b and outcome must have the same length (${a.length}, ${b.length}, ${outcome.length})`);
  }
  for (let r = 0; r < a.length; r++) {
    const i = a[r]!;
    const j = b[r]!;
    const o = outcome[r]!;
    if (i < 0 || i >= modelCount || j < 0 || j >= modelCount) {
      throw new RangeError(`battle ${r}: model index out of range 0..${modelCount - 1} (${i} vs ${j})`);
    }
    if (i === j) throw new RangeError(`battle ${r}: model ${i} cannot battle itself`);
    if (o !== 0 && o !== 0.5 && o !== 1) throw new RangeError(`battle ${r}: outcome must be 0, 0.5 or 1, got ${o}`);
  }
}

/** Collapses battles into per-pair outcome counts (one pass, O(battles + M²) memory-light). */
export function aggregateBattles(battles: TBattles, modelCount: number): TPairTable {
  validateBattles(battles, modelCount);
  const M = modelCount;
  // 3 counters per ordered (lo, hi) slot of the full matrix; only lo < hi is used.
  const dense = new Float64Array(M * M * 3);
  const { a, b, outcome } = battles;
  for (let r = 0; r < a.length; r++) {
    const i = a[r]!;
    const j = b[r]!;
    const o = outcome[r]!;
    const lo = i < j ? i : j;
    const hi = i < j ? j : i;
    // Outcome from lo's side: 1 = lo won, 0 = hi won.
    const loScore = i === lo ? o : 1 - o;
    const slot = (lo * M + hi) * 3 + (loScore === 1 ? 0 : loScore === 0 ? 1 : 2);
    dense[slot]! += 1;
  }
  let pairs = 0;
  for (let i = 0; i < M; i++) {
    for (let j = i + 1; j < M; j++) {
      const s = (i * M + j) * 3;
      if (dense[s]! + dense[s + 1]! + dense[s + 2]! > 0) pairs++;
    }
  }
  const lo = new Int32Array(pairs);
  const hi = new Int32Array(pairs);
  const cells = new Float64Array(pairs * 3);
  let p = 0;
  for (let i = 0; i < M; i++) {
    for (let j = i + 1; j < M; j++) {
      const s = (i * M + j) * 3;
      if (dense[s]! + dense[s + 1]! + dense[s + 2]! === 0) continue;
      lo[p] = i;
      hi[p] = j;
      cells[3 * p] = dense[s]!;
      cells[3 * p + 1] = dense[s + 1]!;
      cells[3 * p + 2] = dense[s + 2]!;
      p++;
    }
  }
  return { modelCount: M, lo, hi, cells, total: a.length };
}

/**
 * `wins[i * M + j]` = battles `i` won against `j`, a tie counting ½ to each side, the
 * convention Chatbot Arena uses for Bradley-Terry (a tie is half a win for both).
 * `counts` lets the bootstrap pass resampled cell counts for the same pairs.
 */
export function pairTableToWins(table: TPairTable, counts: Float64Array = table.cells): Float64Array {
  const M = table.modelCount;
  const wins = new Float64Array(M * M);
  for (let p = 0; p < table.lo.length; p++) {
    const i = table.lo[p]!;
    const j = table.hi[p]!;
    const half = counts[3 * p + 2]! / 2;
    wins[i * M + j] = counts[3 * p]! + half;
    wins[j * M + i] = counts[3 * p + 1]! + half;
  }
  return wins;
}

/** The half-split wins matrix straight from battles. */
export function winsMatrix(battles: TBattles, modelCount: number): Float64Array {
  return pairTableToWins(aggregateBattles(battles, modelCount));
}

/** Battles between each pair, symmetric, zero diagonal. Exact, since a battle adds 1 to `wins[i][j] + wins[j][i]`. */
export function battleCounts(wins: Float64Array, modelCount: number): Float64Array {
  assertSquare(wins, modelCount, 'wins');
  const M = modelCount;
  const counts = new Float64Array(M * M);
  for (let i = 0; i < M; i++) {
    for (let j = 0; j < M; j++) {
      if (i !== j) counts[i * M + j] = wins[i * M + j]! + wins[j * M + i]!;
    }
  }
  return counts;
}

/**
 * Share of `i`'s battles against `j` that `i` won, ties counting ½ — the same quantity the
 * Bradley-Terry model predicts, so the matrix can be compared with the fitted probabilities.
 * NaN where the two never met (and on the diagonal).
 */
export function winRateMatrix(wins: Float64Array, modelCount: number): Float64Array {
  const counts = battleCounts(wins, modelCount);
  const rates = new Float64Array(counts.length);
  for (let k = 0; k < counts.length; k++) {
    const n = counts[k]!;
    rates[k] = n > 0 ? wins[k]! / n : Number.NaN;
  }
  return rates;
}

export function tallyModels(table: TPairTable): TModelTally[] {
  const tallies: TModelTally[] = Array.from({ length: table.modelCount }, () => ({ battles: 0, wins: 0, losses: 0, ties: 0 }));
  for (let p = 0; p < table.lo.length; p++) {
    const loWins = table.cells[3 * p]!;
    const hiWins = table.cells[3 * p + 1]!;
    const ties = table.cells[3 * p + 2]!;
    const lo = tallies[table.lo[p]!]!;
    const hi = tallies[table.hi[p]!]!;
    lo.wins += loWins;
    lo.losses += hiWins;
    hi.wins += hiWins;
    hi.losses += loWins;
    lo.ties += ties;
    hi.ties += ties;
    lo.battles += loWins + hiWins + ties;
    hi.battles += loWins + hiWins + ties;
  }
  return tallies;
}
