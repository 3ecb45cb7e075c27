import { slotCount, slotOffset, unitStarts, type TLabels } from './labels';

export type TAlphaMetric = 'nominal' | 'ordinal' | 'interval';

export interface TAlpha {
  alpha: number;
  /** D_o = Σ o_ck δ²_ck / n. */
  observedDisagreement: number;
  /** D_e = Σ n_c n_k δ²_ck / (n (n − 1)). */
  expectedDisagreement: number;
  /** n: the number of pairable values (on units with at least 2 values). */
  pairable: number;
}

/**
 * Krippendorff's alpha following Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability"
 * (section C, any number of observers, missing data), via the coincidence matrix:
 * o_ck = Σ_u (number of c-k pairs of values from different coders in unit u) / (m_u − 1), over
 * units with m_u >= 2 values (the rest are not pairable and dropped); n_c = Σ_k o_ck, n = Σ_c n_c;
 * α = 1 − (n − 1) Σ_ck o_ck δ²_ck / Σ_ck n_c n_k δ²_ck. Differences δ²_ck:
 * nominal 1 when c ≠ k; ordinal (Σ_{g=c..k} n_g − (n_c + n_k)/2)², from the marginal frequencies
 * of the values between c and k; interval (c − k)² on the numeric values as given, so on the
 * signed preference scale the step from −1 to +1 counts as 2 (ordinal is unaffected by spacing).
 * NaN when undefined (fewer than 2 pairable values, or no variation: D_e = 0).
 */
export function krippendorffAlpha(data: TLabels, metric: TAlphaMetric): TAlpha {
  const starts = unitStarts(data);
  const { values } = data;
  // Coincidences between Int8 slots; 256² doubles is small and avoids a first pass to find values.
  const coincidences = new Float64Array(slotCount * slotCount);
  const unitCounts = new Int32Array(slotCount);
  const touched = new Int32Array(slotCount);
  for (let u = 0; u + 1 < starts.length; u++) {
    const start = starts[u]!;
    const end = starts[u + 1]!;
    const size = end - start;
    if (size < 2) continue;
    let distinct = 0;
    for (let i = start; i < end; i++) {
      const slot = values[i]! + slotOffset;
      if (unitCounts[slot]!++ === 0) touched[distinct++] = slot;
    }
    const weight = 1 / (size - 1);
    for (let a = 0; a < distinct; a++) {
      const c = touched[a]!;
      const nc = unitCounts[c]!;
      coincidences[c * slotCount + c]! += nc * (nc - 1) * weight;
      for (let b = 0; b < distinct; b++) {
        if (b === a) continue;
        const k = touched[b]!;
        coincidences[c * slotCount + k]! += nc * unitCounts[k]! * weight;
      }
    }
    for (let a = 0; a < distinct; a++) unitCounts[touched[a]!] = 0;
  }

  // The values that occur, ascending (slot order is value order), with their marginals n_c.
  const present: number[] = [];
  const marginals: number[] = [];
  let n = 0;
  for (let c = 0; c < slotCount; c++) {
    let nc = 0;
    for (let k = 0; k < slotCount; k++) nc += coincidences[c * slotCount + k]!;
    if (nc > 0) {
      present.push(c);
      marginals.push(nc);
      n += nc;
    }
  }
  // Cumulative marginals give the ordinal Σ_{g=c..k} n_g in O(1).
  const cumulative = [0];
  for (const nc of marginals) cumulative.push(cumulative[cumulative.length - 1]! + nc);
  const delta2 = (a: number, b: number): number => {
    if (metric === 'nominal') return 1;
    if (metric === 'interval') return (present[a]! - present[b]!) ** 2;
    const [lo, hi] = a < b ? [a, b] : [b, a];
    return (cumulative[hi + 1]! - cumulative[lo]! - (marginals[lo]! + marginals[hi]!) / 2) ** 2;
  };

  let observedSum = 0;
  let expectedSum = 0;
  for (let a = 0; a < present.length; a++) {
    for (let b = 0; b < present.length; b++) {
      if (a === b) continue;
      const d = delta2(a, b);
      observedSum += coincidences[present[a]! * slotCount + present[b]!]! * d;
      expectedSum += marginals[a]! * marginals[b]! * d;
    }
  }
  const observedDisagreement = n > 0 ? observedSum / n : NaN;
  const expectedDisagreement = n > 1 ? expectedSum / (n * (n - 1)) : NaN;
  const alpha = n > 1 && expectedSum > 0 ? 1 - ((n - 1) * observedSum) / expectedSum : NaN;
  return { alpha, observedDisagreement, expectedDisagreement, pairable: n };
}
