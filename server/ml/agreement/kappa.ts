import { slotCount, slotOffset, unitStarts, type TLabels, type TNominal } from './labels';

export interface TKappa {
  kappa: number;
  /** Observed agreement (P̄ for Fleiss, p_o for Cohen). */
  observed: number;
  /** Agreement expected by chance (P̄_e for Fleiss, p_e for Cohen). */
  expected: number;
}

/**
 * Fleiss' kappa (Fleiss 1971, "Measuring nominal scale agreement among many raters") for nominal
 * labels, generalized to a varying number of raters n_i per unit: P_i = Σ_j n_ij(n_ij − 1) /
 * (n_i(n_i − 1)), P̄ is the mean of P_i over units with n_i >= 2 (others are dropped), p_j is
 * category j's share of all labels on those units, P̄_e = Σ_j p_j², κ = (P̄ − P̄_e) / (1 − P̄_e).
 * Categories are the label's sign ('choice', 2 categories for preference labels) or each distinct
 * value ('value', the 8 signed levels). κ is NaN when it is undefined (no pairable unit, or all
 * labels in one category).
 */
export function fleissKappa(data: TLabels, categories: TNominal = 'choice'): TKappa & { units: number } {
  const starts = unitStarts(data);
  const { values } = data;
  const bySign = categories === 'choice';
  const unitCounts = new Int32Array(slotCount);
  const totals = new Float64Array(slotCount);
  const touched = new Int32Array(slotCount);
  let sumP = 0;
  let units = 0;
  let labels = 0;
  for (let u = 0; u + 1 < starts.length; u++) {
    const start = starts[u]!;
    const end = starts[u + 1]!;
    const size = end - start;
    if (size < 2) continue;
    let distinct = 0;
    for (let i = start; i < end; i++) {
      const slot = (bySign ? Math.sign(values[i]!) : values[i]!) + slotOffset;
      if (unitCounts[slot]!++ === 0) touched[distinct++] = slot;
    }
    let agreeingOrdered = 0;
    for (let t = 0; t < distinct; t++) {
      const slot = touched[t]!;
      const count = unitCounts[slot]!;
      agreeingOrdered += count * (count - 1);
      totals[slot]! += count;
      unitCounts[slot] = 0;
    }
    sumP += agreeingOrdered / (size * (size - 1));
    units++;
    labels += size;
  }
  if (units === 0) return { kappa: NaN, observed: NaN, expected: NaN, units };
  let expected = 0;
  for (let slot = 0; slot < slotCount; slot++) expected += (totals[slot]! / labels) ** 2;
  const observed = sumP / units;
  return { kappa: chanceCorrected(observed, expected), observed, expected, units };
}

/**
 * Cohen's kappa (Cohen 1960, "A coefficient of agreement for nominal scales") for two raters who
 * labelled the same items, `a[i]` and `b[i]` being their labels of item i: p_o is the share of
 * items they label alike, p_e = Σ_c p_a(c) p_b(c) from each rater's own marginals,
 * κ = (p_o − p_e) / (1 − p_e). Labels are nominal categories; pass `choices(values)` to compare
 * choices. NaN when undefined (no items, or both raters always use the same single category).
 */
export function cohensKappa(a: Int8Array, b: Int8Array): TKappa {
  if (a.length !== b.length) throw new RangeError(`both raters must label the same items (${a.length} vs ${b.length})`);
  const n = a.length;
  if (n === 0) return { kappa: NaN, observed: NaN, expected: NaN };
  const marginA = new Float64Array(slotCount);
  const marginB = new Float64Array(slotCount);
  let agreeing = 0;
  for (let i = 0; i < n; i++) {
    const x = a[i]!;
    const y = b[i]!;
    if (x === y) agreeing++;
    marginA[x + slotOffset]!++;
    marginB[y + slotOffset]!++;
  }
  let expected = 0;
  for (let slot = 0; slot < slotCount; slot++) expected += (marginA[slot]! / n) * (marginB[slot]! / n);
  const observed = agreeing / n;
  return { kappa: chanceCorrected(observed, expected), observed, expected };
}

function chanceCorrected(observed: number, expected: number): number {
  return expected < 1 ? (observed - expected) / (1 - expected) : NaN;
}
