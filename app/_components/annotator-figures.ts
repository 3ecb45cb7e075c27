import type { anomalyThresholds, TAnomalyFlag } from '@/server/quality/annotator-stats';

/** How annotator figures read, shared by the annotator's own panel and the admin table. */
export type TThresholds = typeof anomalyThresholds;

export const percent = (share: number | null | undefined, digits = 0): string => (share === null || share === undefined ? '–' : `${(100 * share).toFixed(digits)}%`);

export function seconds(ms: number | null): string {
  if (ms === null) return '–';
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  if (ms < 120_000) return `${Math.round(ms / 1000)} s`;
  return `${(ms / 60_000).toFixed(1)} min`;
}

/** A p-value as people read it: small ones as "< 0.001", never as 0. */
export function pValue(p: number | null): string {
  if (p === null) return '–';
  if (p < 0.001) return '< 0.001';
  return p >= 0.1 ? p.toFixed(2) : p.toFixed(3);
}

export const flagLabels: Record<TAnomalyFlag, string> = {
  too_fast: 'Too fast',
  same_side: 'Same side',
  same_strength: 'Same strength',
  low_gold: 'Low gold',
};

/** What a flag means, with the thresholds the server applied. */
export function flagExplanation(flag: TAnomalyFlag, t: TThresholds): string {
  switch (flag) {
    case 'too_fast':
      return `Median time under ${t.tooFast.medianMsBelow / 1000} s per judgment (at least ${t.tooFast.minJudgments} judgments).`;
    case 'same_side':
      return `Chose the left response in under ${percent(t.sameSide.leftRateLow)} or over ${percent(t.sameSide.leftRateHigh)} of at least ${t.sameSide.minPairs} pairs, binomial p < ${t.sameSide.pValueBelow}.`;
    case 'same_strength':
      return `One strength level in at least ${percent(t.sameStrength.shareAtLeast)} of at least ${t.sameStrength.minJudgments} judgments.`;
    case 'low_gold':
      return "Gold accuracy under the project's threshold.";
  }
}
