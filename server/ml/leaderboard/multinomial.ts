/**
 * Exact binomial and multinomial sampling, for resampling aggregated battles.
 *
 * Resampling N battles with replacement is the same, in distribution, as drawing the number of
 * copies of each distinct (pair, outcome) cell from Multinomial(N, count_k / N). We draw that
 * multinomial exactly, as a chain of conditional binomials:
 *   n_k ~ Binomial(N − Σ_{l<k} n_l,  count_k / Σ_{l≥k} count_l).
 * Sums of whole-battle counts stay exact integers in doubles, so the conditional probabilities
 * carry no drift. This costs one binomial draw per cell (≤ 3·M(M−1)/2), independent of N,
 * instead of N draws per round. (The Poisson bootstrap would also be O(cells) but changes the
 * total number of battles from round to round; there is no need for the approximation.)
 *
 * Binomial(n, p): inversion when n·min(p, 1−p) < 10, otherwise BTRS, the transformed rejection
 * sampler of Hörmann ("The generation of binomial random variates", J. Stat. Comput. Simul.
 * 46, 1993), which needs ~1.1 uniform pairs per draw whatever n is. Log-factorials in the
 * acceptance test use Stirling's series with the large terms written as in Hörmann's paper, so
 * nothing cancels catastrophically at n ≈ 10⁶.
 */

/** The part of `createRng(seed)` this module needs. */
export interface TUniformSource {
  float(): number;
}

const halfLog2Pi = 0.5 * Math.log(2 * Math.PI);

/** δ(k) = ln k! − [(k + ½)·ln(k + 1) − (k + 1) + ½·ln 2π], exact below 10, series above. */
const smallTails = Array.from({ length: 10 }, (_, k) => {
  let logFactorial = 0;
  for (let i = 2; i <= k; i++) logFactorial += Math.log(i);
  return logFactorial - ((k + 0.5) * Math.log(k + 1) - (k + 1) + halfLog2Pi);
});

function stirlingTail(k: number): number {
  if (k < 10) return smallTails[k]!;
  const kp1 = k + 1;
  const kp1sq = kp1 * kp1;
  return (1 / 12 - (1 / 360 - 1 / 1260 / kp1sq) / kp1sq) / kp1;
}

/** Inversion (sequential search from 0); O(n·p) expected work, used only when n·p < 10. */
function binomialInversion(rng: TUniformSource, n: number, p: number): number {
  const q = 1 - p;
  const s = p / q;
  const a = (n + 1) * s;
  const r0 = Math.exp(n * Math.log1p(-p));
  for (;;) {
    let r = r0;
    let u = rng.float();
    let x = 0;
    while (u > r) {
      u -= r;
      x++;
      // Rounding can leave u > 0 after the whole mass; restart rather than return x > n.
      if (x > n) break;
      r *= a / x - s;
    }
    if (x <= n) return x;
  }
}

/** BTRS for p ≤ ½ and n·p ≥ 10. */
function binomialBtrs(rng: TUniformSource, n: number, p: number): number {
  const spq = Math.sqrt(n * p * (1 - p));
  const b = 1.15 + 2.53 * spq;
  const a = -0.0873 + 0.0248 * b + 0.01 * p;
  const c = n * p + 0.5;
  const vr = 0.92 - 4.2 / b;
  const alpha = (2.83 + 5.1 / b) * spq;
  const r = p / (1 - p);
  const m = Math.floor((n + 1) * p);
  const mTerm = (m + 0.5) * Math.log((m + 1) / (r * (n - m + 1))) + stirlingTail(m) + stirlingTail(n - m);
  for (;;) {
    const u = rng.float() - 0.5;
    const v = rng.float();
    const us = 0.5 - Math.abs(u);
    if (us <= 0) continue;
    const k = Math.floor(((2 * a) / us + b) * u + c);
    if (k < 0 || k > n) continue;
    if (us >= 0.07 && v <= vr) return k;
    if (v <= 0) continue;
    const logV = Math.log((v * alpha) / (a / (us * us) + b));
    const bound =
      mTerm +
      (n + 1) * Math.log((n - m + 1) / (n - k + 1)) +
      (k + 0.5) * Math.log((r * (n - k + 1)) / (k + 1)) -
      stirlingTail(k) -
      stirlingTail(n - k);
    if (logV <= bound) return k;
  }
}

/** One draw from Binomial(n, p) for integer n ≥ 0 and 0 ≤ p ≤ 1. */
export function sampleBinomial(rng: TUniformSource, n: number, p: number): number {
  if (n <= 0 || p <= 0) return 0;
  if (p >= 1) return n;
  if (p > 0.5) return n - sampleBinomial(rng, n, 1 - p);
  return n * p < 10 ? binomialInversion(rng, n, p) : binomialBtrs(rng, n, p);
}

/**
 * Draws `n` items over cells weighted by the integer `weights` (Multinomial(n, w / Σw)) into
 * `out` (same length; overwritten).
 */
export function sampleMultinomial(rng: TUniformSource, n: number, weights: Float64Array, out: Float64Array): void {
  let remainingWeight = 0;
  for (let k = 0; k < weights.length; k++) remainingWeight += weights[k]!;
  let remaining = n;
  for (let k = 0; k < weights.length; k++) {
    const w = weights[k]!;
    if (remaining === 0 || w === 0) {
      out[k] = 0;
      continue;
    }
    const draw = w >= remainingWeight ? remaining : sampleBinomial(rng, remaining, w / remainingWeight);
    out[k] = draw;
    remaining -= draw;
    remainingWeight -= w;
  }
}
