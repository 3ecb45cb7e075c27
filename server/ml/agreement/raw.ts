import { unitStarts, type TLabels } from './labels';

/** Same-sign counts of one unit, so every pair count below is O(1) per label. */
function signCounts(values: Int8Array, start: number, end: number): { positive: number; negative: number } {
  let positive = 0;
  let negative = 0;
  for (let i = start; i < end; i++) {
    const v = values[i]!;
    if (v > 0) positive++;
    else if (v < 0) negative++;
  }
  return { positive, negative };
}

function sameSign(v: number, positive: number, negative: number, size: number): number {
  return v > 0 ? positive : v < 0 ? negative : size - positive - negative;
}

/**
 * Percent agreement on the choice (sign): over units with at least 2 labels, agreeing pairs of
 * labels / all pairs, pooled over units (Fleiss 1971, eq. 2, summed before dividing). With the
 * same number of labels on every unit this is exactly Fleiss' P̄; with varying numbers, units with
 * more labels weigh more, as each pair counts once. `pairs` is the number of unordered pairs
 * (the proportion is the same over ordered pairs).
 */
export function rawAgreement(data: TLabels): { overall: number; pairs: number } {
  const starts = unitStarts(data);
  let agreeing = 0;
  let pairs = 0;
  for (let u = 0; u + 1 < starts.length; u++) {
    const start = starts[u]!;
    const size = starts[u + 1]! - start;
    if (size < 2) continue;
    const { positive, negative } = signCounts(data.values, start, start + size);
    const zero = size - positive - negative;
    agreeing += (positive * (positive - 1) + negative * (negative - 1) + zero * (zero - 1)) / 2;
    pairs += (size * (size - 1)) / 2;
  }
  return { overall: pairs > 0 ? agreeing / pairs : NaN, pairs };
}

/**
 * Whether strong preferences agree more: for each strength level 1..4 (|label|: 1 marginally,
 * 2 slightly, 3 better, 4 significantly better), over every label of that level on a unit with at
 * least 2 labels, the proportion of the other annotators' labels on that unit with the same sign.
 * `pairs` counts (label, other label) pairs. Labels must be on the -4..-1, 1..4 scale.
 */
export function agreementByStrength(data: TLabels): { level: number; agreement: number; pairs: number }[] {
  const starts = unitStarts(data);
  const { values } = data;
  const agreeing = new Float64Array(5);
  const pairs = new Float64Array(5);
  for (let u = 0; u + 1 < starts.length; u++) {
    const start = starts[u]!;
    const end = starts[u + 1]!;
    const size = end - start;
    if (size < 2) continue;
    const { positive, negative } = signCounts(values, start, end);
    for (let i = start; i < end; i++) {
      const v = values[i]!;
      const level = Math.abs(v);
      if (level < 1 || level > 4) throw new RangeError(`row ${i}: label ${v} is not on the -4..-1, 1..4 scale`);
      agreeing[level]! += sameSign(v, positive, negative, size) - 1;
      pairs[level]! += size - 1;
    }
  }
  return [1, 2, 3, 4].map((level) => ({
    level,
    agreement: pairs[level]! > 0 ? agreeing[level]! / pairs[level]! : NaN,
    pairs: pairs[level]!,
  }));
}

/**
 * Each coder's raw agreement with the others on the choice (sign): over the coder's labels on
 * units with at least 2 labels, the proportion of (their label, another coder's label on the same
 * unit) pairs with the same sign. Indexed by coder 0..C-1 (C = largest coder index + 1); a coder
 * with no pairs has agreement NaN.
 */
export function perCoderAgreement(data: TLabels): { coder: number; agreement: number; pairs: number }[] {
  const starts = unitStarts(data);
  const { coders, values } = data;
  let coderCount = 0;
  for (let i = 0; i < coders.length; i++) coderCount = Math.max(coderCount, coders[i]! + 1);
  const agreeing = new Float64Array(coderCount);
  const pairs = new Float64Array(coderCount);
  for (let u = 0; u + 1 < starts.length; u++) {
    const start = starts[u]!;
    const end = starts[u + 1]!;
    const size = end - start;
    if (size < 2) continue;
    const { positive, negative } = signCounts(values, start, end);
    for (let i = start; i < end; i++) {
      const coder = coders[i]!;
      agreeing[coder]! += sameSign(values[i]!, positive, negative, size) - 1;
      pairs[coder]! += size - 1;
    }
  }
  return Array.from({ length: coderCount }, (_, coder) => ({
    coder,
    agreement: pairs[coder]! > 0 ? agreeing[coder]! / pairs[coder]! : NaN,
    pairs: pairs[coder]!,
  }));
}
