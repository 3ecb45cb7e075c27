import { agreementByStrength, bootstrapCI, cohensKappa, fleissKappa, krippendorffAlpha, rawAgreement, type TLabels } from '../ml/agreement';
import { createRng } from '../ml/random';
import type { TProjectLabels } from './labels';

export interface TInterval {
  estimate: number;
  low: number;
  high: number;
  rounds: number;
}

export interface TAgreementReport {
  /** Comparisons with two or more pair judgments. */
  units: number;
  labels: number;
  raw: TInterval | null;
  fleissKappa: TInterval | null;
  /** Only when exactly two annotators judged the pairable comparisons. */
  cohensKappa: TInterval | null;
  krippendorffAlpha: TInterval | null;
  byStrength: { level: 1 | 2 | 3 | 4; agreement: number; n: number }[];
}

/**
 * Past this many labels the bootstrap runs on a random subset of comparisons and its interval
 * is widened by sqrt(subset / all) (the m-out-of-n bootstrap): a full 1,000-round bootstrap of
 * a million labels would take minutes, and at that size the interval is narrow anyway.
 */
export const BOOTSTRAP_MAX_LABELS = 25_000;

/** Keeps only units with two or more labels: the others carry no agreement information. */
function pairableOnly(data: TLabels): TLabels {
  const keep = new Uint8Array(data.units.length);
  let kept = 0;
  for (let i = 0; i < data.units.length; ) {
    let j = i;
    while (j < data.units.length && data.units[j] === data.units[i]) j++;
    if (j - i >= 2) {
      for (let k = i; k < j; k++) keep[k] = 1;
      kept += j - i;
    }
    i = j;
  }
  const out = { units: new Int32Array(kept), coders: new Int32Array(kept), values: new Int8Array(kept) };
  for (let i = 0, o = 0; i < keep.length; i++) {
    if (!keep[i]) continue;
    out.units[o] = data.units[i]!;
    out.coders[o] = data.coders[i]!;
    out.values[o++] = data.values[i]!;
  }
  return out;
}

/** A random subset of whole units, about `maxLabels` labels, renumbered densely. */
function subsampleUnits(data: TLabels, maxLabels: number, seed: number): { sample: TLabels; fraction: number } {
  const unitCount = data.units.length ? data.units[data.units.length - 1]! + 1 : 0;
  const fraction = Math.min(1, maxLabels / Math.max(1, data.units.length));
  if (fraction >= 1) return { sample: data, fraction: 1 };
  const rng = createRng(seed);
  const chosen = new Uint8Array(unitCount);
  for (let u = 0; u < unitCount; u++) chosen[u] = rng.float() < fraction ? 1 : 0;
  const units: number[] = [];
  const coders: number[] = [];
  const values: number[] = [];
  let next = -1;
  let last = -1;
  for (let i = 0; i < data.units.length; i++) {
    const u = data.units[i]!;
    if (!chosen[u]) continue;
    if (u !== last) {
      next++;
      last = u;
    }
    units.push(next);
    coders.push(data.coders[i]!);
    values.push(data.values[i]!);
  }
  return { sample: { units: Int32Array.from(units), coders: Int32Array.from(coders), values: Int8Array.from(values) }, fraction: next + 1 > 0 ? (next + 1) / unitCount : 1 };
}

function interval(all: TLabels, sample: TLabels, fraction: number, statistic: (d: TLabels) => number, rounds: number, seed: number): TInterval | null {
  const estimate = statistic(all);
  if (!Number.isFinite(estimate)) return null;
  const ci = bootstrapCI(sample, statistic, { rounds, seed });
  if (!ci.rounds) return { estimate, low: NaN, high: NaN, rounds: 0 };
  // The subset's interval is about 1/sqrt(fraction) too wide: shrink it around the full estimate.
  const scale = Math.sqrt(fraction);
  return { estimate, low: estimate - (ci.estimate - ci.low) * scale, high: estimate + (ci.high - ci.estimate) * scale, rounds: ci.rounds };
}

/** Raw agreement, Fleiss' kappa, Cohen's kappa (two annotators), ordinal Krippendorff's alpha, with 95 % bootstrap intervals. */
export function agreementReport(labels: TProjectLabels, options: { rounds?: number; seed?: number } = {}): TAgreementReport {
  const rounds = options.rounds ?? 200;
  const seed = options.seed ?? 1;
  const data = pairableOnly(labels);
  const units = data.units.length ? new Set(data.units).size : 0;
  const byStrength = agreementByStrength(data).map((s) => ({ level: s.level as 1 | 2 | 3 | 4, agreement: s.agreement, n: s.pairs }));
  if (units === 0) return { units: 0, labels: 0, raw: null, fleissKappa: null, cohensKappa: null, krippendorffAlpha: null, byStrength };

  const { sample, fraction } = subsampleUnits(data, BOOTSTRAP_MAX_LABELS, seed);
  const coderCount = new Set(data.coders).size;
  const cohen = (d: TLabels) => {
    // With two annotators every pairable unit holds one label of each: rows alternate by coder.
    const a = new Int8Array(d.units.length / 2);
    const b = new Int8Array(d.units.length / 2);
    for (let i = 0; i + 1 < d.units.length; i += 2) {
      const first = d.coders[i]! < d.coders[i + 1]!;
      a[i / 2] = Math.sign(first ? d.values[i]! : d.values[i + 1]!);
      b[i / 2] = Math.sign(first ? d.values[i + 1]! : d.values[i]!);
    }
    return cohensKappa(a, b).kappa;
  };
  const twoCodersPerUnit = coderCount === 2 && data.units.length === units * 2;
  return {
    units,
    labels: data.units.length,
    raw: interval(data, sample, fraction, (d) => rawAgreement(d).overall, rounds, seed),
    fleissKappa: interval(data, sample, fraction, (d) => fleissKappa(d, 'choice').kappa, rounds, seed),
    cohensKappa: twoCodersPerUnit ? interval(data, sample, fraction, cohen, rounds, seed) : null,
    krippendorffAlpha: interval(data, sample, fraction, (d) => krippendorffAlpha(d, 'ordinal').alpha, rounds, seed),
    byStrength,
  };
}

/**
 * Raw agreement on the choice per week: for each comparison with two or more labels, its
 * agreeing pairs of labels over all pairs, dated by the week of its latest label.
 */
export function agreementByWeek(labels: TProjectLabels): { week: string; raw: number; pairs: number }[] {
  const agree = new Map<number, number>();
  const total = new Map<number, number>();
  const { units, values, weeks } = labels;
  for (let i = 0; i < units.length; ) {
    let j = i;
    let positive = 0;
    let week = -Infinity;
    while (j < units.length && units[j] === units[i]) {
      if (values[j]! > 0) positive++;
      if (weeks[j]! > week) week = weeks[j]!;
      j++;
    }
    const n = j - i;
    if (n >= 2) {
      const negative = n - positive;
      agree.set(week, (agree.get(week) ?? 0) + (positive * (positive - 1)) / 2 + (negative * (negative - 1)) / 2);
      total.set(week, (total.get(week) ?? 0) + (n * (n - 1)) / 2);
    }
    i = j;
  }
  return [...total.keys()]
    .sort((a, b) => a - b)
    .map((week) => ({ week: new Date(week * 86_400_000).toISOString().slice(0, 10), raw: agree.get(week)! / total.get(week)!, pairs: total.get(week)! }));
}
