import { createRng } from '../random';
import { unitStarts, type TLabels } from './labels';

export interface TBootstrapOptions {
  /** Resamples to draw (default 1000). */
  rounds?: number;
  /** PRNG seed: the same seed gives the same interval (default 1). */
  seed?: number;
  /** Confidence level in (0, 1) (default 0.95: the 2.5th and 97.5th percentiles). */
  level?: number;
}

export interface TBootstrapInterval {
  /** The statistic on the data as given. */
  estimate: number;
  low: number;
  high: number;
  /** Rounds whose statistic was finite; rounds giving NaN (e.g. a resample without variation) are left out. */
  rounds: number;
}

/**
 * Percentile bootstrap confidence interval (Efron & Tibshirani 1993, "An Introduction to the
 * Bootstrap", ch. 13) with a cluster (unit) bootstrap: each round draws U units with replacement,
 * keeping each drawn unit's labels together, because labels on one comparison are not independent.
 * The bounds are the (1 − level)/2 and (1 + level)/2 quantiles of the round statistics (linear
 * interpolation between order statistics, Hyndman & Fan type 7). `statistic` receives typed
 * arrays reused between rounds, so it must not keep them.
 */
export function bootstrapCI(data: TLabels, statistic: (sample: TLabels) => number, options: TBootstrapOptions = {}): TBootstrapInterval {
  const { rounds = 1000, seed = 1, level = 0.95 } = options;
  if (!Number.isInteger(rounds) || rounds < 1) throw new RangeError(`rounds must be a positive integer, got ${rounds}`);
  if (!(level > 0 && level < 1)) throw new RangeError(`level must be between 0 and 1, got ${level}`);
  const starts = unitStarts(data);
  const unitCount = starts.length - 1;
  const estimate = statistic(data);
  if (unitCount === 0) return { estimate, low: NaN, high: NaN, rounds: 0 };

  const rng = createRng(seed);
  const sourceCoders = data.coders;
  const sourceValues = data.values;
  // Draw counts rather than a list of draws: the statistics do not depend on unit order, and
  // copying in source order reads memory sequentially, which is most of the cost at 1M rows.
  const draws = new Int32Array(unitCount);
  let capacity = data.values.length;
  let units = new Int32Array(capacity);
  let coders = new Int32Array(capacity);
  let values = new Int8Array(capacity);
  const results = new Float64Array(rounds);
  let finite = 0;
  for (let round = 0; round < rounds; round++) {
    draws.fill(0);
    for (let r = 0; r < unitCount; r++) draws[rng.int(unitCount)]!++;
    let length = 0;
    for (let u = 0; u < unitCount; u++) length += draws[u]! * (starts[u + 1]! - starts[u]!);
    if (length > capacity) {
      capacity = Math.max(length, Math.ceil(capacity * 1.5));
      units = new Int32Array(capacity);
      coders = new Int32Array(capacity);
      values = new Int8Array(capacity);
    }
    let row = 0;
    let next = 0;
    for (let u = 0; u < unitCount; u++) {
      const start = starts[u]!;
      const end = starts[u + 1]!;
      // Each draw of a unit becomes a unit of its own, so a unit drawn twice counts twice.
      for (let copy = draws[u]!; copy > 0; copy--, next++) {
        for (let i = start; i < end; i++, row++) {
          units[row] = next;
          coders[row] = sourceCoders[i]!;
          values[row] = sourceValues[i]!;
        }
      }
    }
    const value = statistic({ units: units.subarray(0, length), coders: coders.subarray(0, length), values: values.subarray(0, length) });
    if (Number.isFinite(value)) results[finite++] = value;
  }
  if (finite === 0) return { estimate, low: NaN, high: NaN, rounds: 0 };
  const sorted = results.subarray(0, finite).sort();
  return { estimate, low: quantile(sorted, (1 - level) / 2), high: quantile(sorted, (1 + level) / 2), rounds: finite };
}

function quantile(sorted: Float64Array, p: number): number {
  const h = (sorted.length - 1) * p;
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (h - lo) * (sorted[hi]! - sorted[lo]!);
}
