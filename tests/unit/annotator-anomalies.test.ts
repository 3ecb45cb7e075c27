import { describe, expect, it } from 'vitest';
import type { TStrength } from '@/server/annotation/strengths';
import { binomialTest } from '@/server/ml/binomial';
import { anomaliesOf, anomalyThresholds } from '@/server/quality/annotator-stats';

const noStrengths: Record<TStrength, number> = { significantly_better: 0, better: 0, slightly_better: 0, marginally_better: 0 };

/** Figures with nothing unusual, overridden per test. */
function figures(over: Partial<Parameters<typeof anomaliesOf>[0]> = {}): Parameters<typeof anomaliesOf>[0] {
  return {
    judgments: 100,
    medianTimeMs: 20_000,
    position: { pairs: 100, left: 50, leftRate: 0.5, pValue: 1 },
    strengths: { significantly_better: 25, better: 25, slightly_better: 25, marginally_better: 25 },
    gold: null,
    ...over,
  };
}

const side = (left: number, pairs: number) => ({ pairs, left, leftRate: left / pairs, pValue: binomialTest(left, pairs) });

describe('anomaliesOf', () => {
  it('flags nothing in ordinary figures, nor without judgments', () => {
    expect(anomaliesOf(figures())).toEqual([]);
    expect(anomaliesOf({ judgments: 0, medianTimeMs: null, position: { pairs: 0, left: 0, leftRate: null, pValue: null }, strengths: noStrengths, gold: null })).toEqual([]);
  });

  it('too fast: median under 4 s, from 20 judgments on', () => {
    expect(anomalyThresholds.tooFast).toEqual({ medianMsBelow: 4000, minJudgments: 20 });
    expect(anomaliesOf(figures({ judgments: 20, medianTimeMs: 3_999 }))).toEqual(['too_fast']);
    expect(anomaliesOf(figures({ judgments: 20, medianTimeMs: 4_000 }))).toEqual([]);
    expect(anomaliesOf(figures({ judgments: 19, medianTimeMs: 500 }))).toEqual([]);
  });

  it('same side: p < 0.001 and a left rate outside [0.2, 0.8], from 20 pairs on', () => {
    // 19 of 20: rate 0.95, p = 4.0e-5.
    expect(anomaliesOf(figures({ position: side(19, 20) }))).toEqual(['same_side']);
    expect(anomaliesOf(figures({ position: side(1, 20) }))).toEqual(['same_side']);
    // 17 of 20: rate 0.85 but p = 0.0026, not significant enough.
    expect(anomaliesOf(figures({ position: side(17, 20) }))).toEqual([]);
    // 19 of 19: below the minimum of pairs.
    expect(anomaliesOf(figures({ position: side(19, 19) }))).toEqual([]);
    // 5,300 of 10,000: p tiny, but 53% is no habit of picking one side.
    expect(binomialTest(5300, 10_000)).toBeLessThan(1e-6);
    expect(anomaliesOf(figures({ position: side(5300, 10_000) }))).toEqual([]);
    // 800 of 1,000 is on the boundary (inside); 801 is outside.
    expect(anomaliesOf(figures({ position: side(800, 1000) }))).toEqual([]);
    expect(anomaliesOf(figures({ position: side(801, 1000) }))).toEqual(['same_side']);
  });

  it('same strength: one level in at least 90% of 20 or more rated judgments', () => {
    expect(anomaliesOf(figures({ strengths: { ...noStrengths, better: 18, slightly_better: 2 } }))).toEqual(['same_strength']);
    expect(anomaliesOf(figures({ strengths: { ...noStrengths, better: 17, slightly_better: 3 } }))).toEqual([]);
    expect(anomaliesOf(figures({ strengths: { ...noStrengths, better: 19 } }))).toEqual([]);
  });

  it('low gold: as gold.ts flags it', () => {
    expect(anomaliesOf(figures({ gold: { answered: 5, correct: 1, accuracy: 0.2, flagged: true } }))).toEqual(['low_gold']);
    expect(anomaliesOf(figures({ gold: { answered: 3, correct: 0, accuracy: 0, flagged: false } }))).toEqual([]);
  });

  it('lists every flag that applies, in a fixed order', () => {
    const all = figures({ judgments: 30, medianTimeMs: 1000, position: side(30, 30), strengths: { ...noStrengths, better: 30 }, gold: { answered: 5, correct: 0, accuracy: 0, flagged: true } });
    expect(anomaliesOf(all)).toEqual(['too_fast', 'same_side', 'same_strength', 'low_gold']);
  });
});
