/**
 * The exact two-sided binomial test against p = 1/2, for position bias: is an annotator's rate
 * of choosing the left response compatible with a fair coin?
 *
 * The p-value is the probability of every outcome at most as likely as the observed one (the
 * "minlike" definition of R's binom.test and SciPy's binomtest). With p = 1/2 the distribution
 * is symmetric and strictly unimodal, so for j = min(k, n - k) < n/2 the outcomes at most as
 * likely as k are exactly 0..j and n-j..n: p = 2 P(X <= j); and p = 1 when k = n/2.
 *
 * No normal approximation: P(X = j) comes from Loader's saddle-point formula (the one R's dbinom
 * uses), which never subtracts large log-factorials from each other and stays accurate for n in
 * the billions; the lower tail is summed from j downwards with the ratio
 * P(X = i-1) / P(X = i) = i / (n - i + 1) until the terms no longer change the sum. Terms fall off
 * like a Gaussian of width sqrt(n)/2, so the loop runs O(sqrt(n)) times at worst (about 5,000 for
 * n = 1,000,000), and far fewer when the observation is far in the tail.
 */

const LN_SQRT_2PI = 0.5 * Math.log(2 * Math.PI);

/** ln(n!) by summing logs, for the small n where Stirling's series is not yet accurate. */
function logFactorialSmall(n: number): number {
  let s = 0;
  for (let i = 2; i <= n; i++) s += Math.log(i);
  return s;
}

/** Stirling's error: ln(n!) - [(n + 1/2) ln n - n + ln sqrt(2 pi)], for integers n >= 1. */
export function stirlingError(n: number): number {
  if (n <= 15) return logFactorialSmall(n) - ((n + 0.5) * Math.log(n) - n + LN_SQRT_2PI);
  const nn = n * n;
  const S0 = 1 / 12;
  const S1 = 1 / 360;
  const S2 = 1 / 1260;
  const S3 = 1 / 1680;
  const S4 = 1 / 1188;
  if (n > 500) return (S0 - S1 / nn) / n;
  if (n > 80) return (S0 - (S1 - S2 / nn) / nn) / n;
  if (n > 35) return (S0 - (S1 - (S2 - S3 / nn) / nn) / nn) / n;
  return (S0 - (S1 - (S2 - (S3 - S4 / nn) / nn) / nn) / nn) / n;
}

/** Loader's deviance term x ln(x / m) + m - x, by a series when x is close to m (where the plain formula cancels). */
function deviance(x: number, m: number): number {
  if (Math.abs(x - m) < 0.1 * (x + m)) {
    let v = (x - m) / (x + m);
    let s = (x - m) * v;
    let ej = 2 * x * v;
    v *= v;
    for (let j = 1; j < 1000; j++) {
      ej *= v;
      const next = s + ej / (2 * j + 1);
      if (next === s) return next;
      s = next;
    }
    return s;
  }
  return x * Math.log(x / m) + m - x;
}

/** ln P(X = k) for X ~ Binomial(n, 1/2). */
export function logBinomialHalfPmf(k: number, n: number): number {
  if (k < 0 || k > n) return -Infinity;
  if (k === 0 || k === n) return -n * Math.LN2;
  const half = n / 2;
  return (
    stirlingError(n) -
    stirlingError(k) -
    stirlingError(n - k) -
    deviance(k, half) -
    deviance(n - k, half) +
    0.5 * Math.log(n / (2 * Math.PI * k * (n - k)))
  );
}

/**
 * Two-sided exact binomial test of `successes` out of `trials` against p = 1/2: the p-value
 * (1 for no trials). Very small p-values underflow to 0 (below about 1e-308).
 */
export function binomialTest(successes: number, trials: number): number {
  if (!Number.isInteger(successes) || !Number.isInteger(trials) || trials < 0 || successes < 0 || successes > trials) {
    throw new RangeError(`binomialTest needs integers 0 <= successes <= trials (got ${successes} of ${trials})`);
  }
  const j = Math.min(successes, trials - successes);
  if (2 * j === trials) return 1;
  // P(X <= j) = P(X = j) * (1 + r_j + r_j r_{j-1} + ...), summed relative to the first term.
  let term = 1;
  let sum = 1;
  for (let i = j; i >= 1; i--) {
    term *= i / (trials - i + 1);
    sum += term;
    if (term < sum * 1e-17) break;
  }
  return Math.min(1, 2 * Math.exp(logBinomialHalfPmf(j, trials) + Math.log(sum)));
}
