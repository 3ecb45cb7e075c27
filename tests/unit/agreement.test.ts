import { describe, expect, it } from 'vitest';
import {
  agreementByStrength,
  bootstrapCI,
  choices,
  cohensKappa,
  fleissKappa,
  krippendorffAlpha,
  perCoderAgreement,
  rawAgreement,
  toChoices,
  type TLabels,
} from '@/server/ml/agreement';
import { createRng } from '@/server/ml/random';

/** Units as lists of labels indexed by coder; null = that coder did not label the unit. */
function fromUnits(units: (number | null)[][]): TLabels {
  const u: number[] = [];
  const c: number[] = [];
  const v: number[] = [];
  units.forEach((labels, unit) =>
    labels.forEach((label, coder) => {
      if (label === null) return;
      u.push(unit);
      c.push(coder);
      v.push(label);
    }),
  );
  return { units: Int32Array.from(u), coders: Int32Array.from(c), values: Int8Array.from(v) };
}

/** Krippendorff's layout: one row per observer, one column per unit. */
function fromObserverRows(rows: (number | null)[][]): TLabels {
  const unitCount = rows[0]!.length;
  return fromUnits(Array.from({ length: unitCount }, (_, unit) => rows.map((row) => row[unit]!)));
}

/** Fleiss' layout: n_ij = how many raters put subject i in category j (coded j + 1). */
function fromCategoryCounts(counts: number[][]): TLabels {
  return fromUnits(counts.map((row) => row.flatMap((count, j) => Array<number>(count).fill(j + 1))));
}

/** Synthetic preference labels: each unit has a latent lean, coders follow it noisily. */
function simulate(unitCount: number, perUnit: number, coderCount: number, seed: number): TLabels {
  const rng = createRng(seed);
  const n = unitCount * perUnit;
  const units = new Int32Array(n);
  const coders = new Int32Array(n);
  const values = new Int8Array(n);
  let row = 0;
  for (let u = 0; u < unitCount; u++) {
    const lean = rng.float();
    const first = rng.int(coderCount);
    for (let k = 0; k < perUnit; k++, row++) {
      units[row] = u;
      coders[row] = (first + k) % coderCount;
      const second = rng.float() < lean;
      const strength = 1 + Math.min(3, Math.floor(Math.abs(lean - 0.5) * 6 + rng.float() * 2));
      values[row] = second ? strength : -strength;
    }
  }
  return { units, coders, values };
}

/** The same judgments with units renumbered in a shuffled order and rows shuffled within units. */
function shuffleUnits(data: TLabels, seed: number): TLabels {
  const rng = createRng(seed);
  const rows = Array.from(data.units, (_, i) => i);
  const unitIds = [...new Set(data.units)];
  const newId = new Map<number, number>();
  for (let i = unitIds.length - 1; i >= 0; i--) {
    const j = rng.int(i + 1);
    [unitIds[i], unitIds[j]] = [unitIds[j]!, unitIds[i]!];
  }
  unitIds.forEach((id, position) => newId.set(id, position));
  const key = new Map(rows.map((i) => [i, rng.float()]));
  rows.sort((a, b) => newId.get(data.units[a]!)! - newId.get(data.units[b]!)! || key.get(a)! - key.get(b)!);
  return {
    units: Int32Array.from(rows, (i) => newId.get(data.units[i]!)!),
    coders: Int32Array.from(rows, (i) => data.coders[i]!),
    values: Int8Array.from(rows, (i) => data.values[i]!),
  };
}

describe('fleissKappa', () => {
  // Fleiss (1971), as worked in Wikipedia "Fleiss' kappa" (Worked example): 10 subjects, 14 raters,
  // 5 categories; published P̄ = 0.378, P̄_e = 0.213, κ = 0.210.
  const wikipedia = [
    [0, 0, 0, 0, 14],
    [0, 2, 6, 4, 2],
    [0, 0, 3, 5, 6],
    [0, 3, 9, 2, 0],
    [2, 2, 8, 1, 1],
    [7, 7, 0, 0, 0],
    [3, 2, 6, 3, 0],
    [2, 5, 3, 2, 2],
    [6, 5, 2, 1, 0],
    [0, 2, 2, 3, 7],
  ];

  it('reproduces the Fleiss / Wikipedia worked example', () => {
    const result = fleissKappa(fromCategoryCounts(wikipedia), 'value');
    expect(result.observed).toBeCloseTo(0.378, 3);
    expect(result.expected).toBeCloseTo(0.213, 3);
    expect(result.kappa).toBeCloseTo(0.21, 3);
    expect(result.units).toBe(10);
  });

  it('drops units with fewer than 2 raters and allows varying numbers of raters', () => {
    const data = fromUnits([[1, 1, -1], [2], [-3, -3], [1, null, 1, -1]]);
    const result = fleissKappa(data, 'choice');
    // P_i = 2/6, 2/2, 2/6; labels on pairable units: 4 positive, 4 negative.
    expect(result.units).toBe(3);
    expect(result.observed).toBeCloseTo((1 / 3 + 1 + 1 / 3) / 3, 12);
    expect(result.expected).toBeCloseTo((4 / 8) ** 2 + (4 / 8) ** 2, 12);
  });
});

describe('cohensKappa', () => {
  // Wikipedia "Cohen's kappa", simple example: 50 proposals; both yes 20, A yes / B no 5,
  // A no / B yes 10, both no 15; p_o = 0.7, p_e = 0.5, κ = 0.4.
  it('reproduces the Wikipedia 2x2 example', () => {
    const pairs: [number, number, number][] = [[1, 1, 20], [1, 0, 5], [0, 1, 10], [0, 0, 15]];
    const a = Int8Array.from(pairs.flatMap(([x, , count]) => Array<number>(count).fill(x)));
    const b = Int8Array.from(pairs.flatMap(([, y, count]) => Array<number>(count).fill(y)));
    const result = cohensKappa(a, b);
    expect(result.observed).toBeCloseTo(0.7, 12);
    expect(result.expected).toBeCloseTo(0.5, 12);
    expect(result.kappa).toBeCloseTo(0.4, 12);
  });

  it('compares choices after choices()', () => {
    const a = Int8Array.from([-4, -1, 2, 3]);
    const b = Int8Array.from([-2, -3, 1, 4]);
    expect(cohensKappa(a, b).kappa).toBeLessThan(1);
    expect(cohensKappa(choices(a), choices(b)).kappa).toBe(1);
  });

  it('rejects raters of different lengths', () => {
    expect(() => cohensKappa(Int8Array.from([1]), Int8Array.from([1, 2]))).toThrow(RangeError);
  });
});

describe('krippendorffAlpha', () => {
  // Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", section C: 4 observers
  // (A-D) x 12 units, values 1..5, "." = missing. Published: nominal α = 0.743, ordinal α = 0.815,
  // interval α = 0.849. Unit 12 has one value, so 40 pairable values remain.
  const _ = null;
  const reliabilityData = fromObserverRows([
    [1, 2, 3, 3, 2, 1, 4, 1, 2, _, _, _],
    [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, _, 3],
    [_, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, _],
    [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, _],
  ]);

  it('reproduces the published nominal, ordinal and interval alphas', () => {
    expect(krippendorffAlpha(reliabilityData, 'nominal').alpha).toBeCloseTo(0.743, 3);
    expect(krippendorffAlpha(reliabilityData, 'ordinal').alpha).toBeCloseTo(0.815, 3);
    expect(krippendorffAlpha(reliabilityData, 'interval').alpha).toBeCloseTo(0.849, 3);
    expect(krippendorffAlpha(reliabilityData, 'nominal').pairable).toBe(40);
  });

  it('is undefined without variation', () => {
    expect(krippendorffAlpha(fromUnits([[2, 2], [2, 2]]), 'nominal').alpha).toBeNaN();
    expect(krippendorffAlpha(fromUnits([[2], [3]]), 'interval').alpha).toBeNaN();
  });
});

describe('raw agreement', () => {
  // Unit 0: three coders, two negative; unit 1: two agreeing; unit 2: a lone label, not pairable.
  const data = fromUnits([[-4, -1, 2], [3, 3], [null, null, -2]]);

  it('pools agreeing pairs over units with at least 2 labels', () => {
    expect(rawAgreement(data)).toEqual({ overall: 2 / 4, pairs: 4 });
  });

  it('splits agreement by strength level', () => {
    expect(agreementByStrength(data)).toEqual([
      { level: 1, agreement: 1 / 2, pairs: 2 },
      { level: 2, agreement: 0, pairs: 2 },
      { level: 3, agreement: 1, pairs: 2 },
      { level: 4, agreement: 1 / 2, pairs: 2 },
    ]);
    expect(() => agreementByStrength(fromUnits([[0, 1]]))).toThrow(RangeError);
    expect(() => agreementByStrength(fromUnits([[5, 1]]))).toThrow(RangeError);
  });

  it('gives each coder their agreement with the others', () => {
    expect(perCoderAgreement(data)).toEqual([
      { coder: 0, agreement: 2 / 3, pairs: 3 },
      { coder: 1, agreement: 2 / 3, pairs: 3 },
      { coder: 2, agreement: 0, pairs: 2 },
    ]);
  });

  it("equals Fleiss' P̄ on choices when every unit has the same number of labels", () => {
    const simulated = simulate(500, 3, 7, 11);
    expect(rawAgreement(simulated).overall).toBeCloseTo(fleissKappa(simulated, 'choice').observed, 12);
  });
});

describe('agreement properties', () => {
  it('gives 1 for perfect agreement', () => {
    const data = fromUnits([[-4, -4, -4], [2, 2, null], [1, 1, 1], [-1, null, -1], [3, 3, 3]]);
    expect(fleissKappa(data, 'choice').kappa).toBe(1);
    expect(fleissKappa(data, 'value').kappa).toBe(1);
    expect(cohensKappa(Int8Array.from([-4, 2, 1]), Int8Array.from([-4, 2, 1])).kappa).toBe(1);
    for (const metric of ['nominal', 'ordinal', 'interval'] as const) expect(krippendorffAlpha(data, metric).alpha).toBe(1);
    expect(rawAgreement(data).overall).toBe(1);
    expect(perCoderAgreement(data).map((c) => c.agreement)).toEqual([1, 1, 1]);
  });

  it('goes negative for systematic disagreement', () => {
    // Coder 1 always picks the other response from coder 0.
    const data = fromUnits([[-3, 3], [2, -2], [-1, 1], [4, -4]]);
    expect(cohensKappa(choices(Int8Array.from([-3, 2, -1, 4])), choices(Int8Array.from([3, -2, 1, -4]))).kappa).toBe(-1);
    expect(fleissKappa(data, 'choice').kappa).toBe(-1);
    // n = 8 pairable values, o_{-+} = o_{+-} = 4: α = 1 − 7·8 / (4·4·2) = −0.75.
    expect(krippendorffAlpha(toChoices(data), 'nominal').alpha).toBeCloseTo(-0.75, 12);
    expect(krippendorffAlpha(data, 'ordinal').alpha).toBeLessThan(0);
    expect(krippendorffAlpha(data, 'interval').alpha).toBeLessThan(0);
    expect(rawAgreement(data).overall).toBe(0);
  });

  it('does not depend on the order of units or of rows within a unit', () => {
    const data = simulate(300, 4, 9, 5);
    const shuffled = shuffleUnits(data, 99);
    expect(shuffled.values).not.toEqual(data.values);
    const summary = (d: TLabels) => [
      rawAgreement(d).overall,
      fleissKappa(d, 'choice').kappa,
      fleissKappa(d, 'value').kappa,
      krippendorffAlpha(d, 'nominal').alpha,
      krippendorffAlpha(d, 'ordinal').alpha,
      krippendorffAlpha(d, 'interval').alpha,
      ...agreementByStrength(d).map((s) => s.agreement),
      ...perCoderAgreement(d).map((c) => c.agreement),
    ];
    const expected = summary(data);
    summary(shuffled).forEach((value, i) => expect(value).toBeCloseTo(expected[i]!, 10));
  });

  it('rejects unsorted rows, a coder labelling a unit twice, and ragged columns', () => {
    const unsorted: TLabels = { units: Int32Array.from([1, 0]), coders: Int32Array.from([0, 1]), values: Int8Array.from([1, 1]) };
    expect(() => rawAgreement(unsorted)).toThrow(/sorted/);
    const twice: TLabels = { units: Int32Array.from([0, 0]), coders: Int32Array.from([3, 3]), values: Int8Array.from([1, -1]) };
    expect(() => krippendorffAlpha(twice, 'nominal')).toThrow(/more than once/);
    const ragged: TLabels = { units: Int32Array.from([0, 0]), coders: Int32Array.from([0, 1]), values: Int8Array.from([1]) };
    expect(() => fleissKappa(ragged)).toThrow(/same length/);
  });
});

describe('bootstrapCI', () => {
  const data = simulate(400, 3, 12, 3);
  const kappa = (d: TLabels) => fleissKappa(d, 'choice').kappa;

  it('is deterministic for a seed and brackets the estimate', () => {
    const first = bootstrapCI(data, kappa, { rounds: 300, seed: 42 });
    const again = bootstrapCI(data, kappa, { rounds: 300, seed: 42 });
    const other = bootstrapCI(data, kappa, { rounds: 300, seed: 43 });
    expect(again).toEqual(first);
    expect(other.low).not.toBe(first.low);
    expect(first.estimate).toBe(kappa(data));
    expect(first.rounds).toBe(300);
    expect(first.low).toBeLessThanOrEqual(first.estimate);
    expect(first.high).toBeGreaterThanOrEqual(first.estimate);
    expect(first.high).toBeGreaterThan(first.low);
  });

  it('narrows as the level drops', () => {
    const wide = bootstrapCI(data, kappa, { rounds: 300, seed: 7, level: 0.95 });
    const narrow = bootstrapCI(data, kappa, { rounds: 300, seed: 7, level: 0.5 });
    expect(narrow.low).toBeGreaterThanOrEqual(wide.low);
    expect(narrow.high).toBeLessThanOrEqual(wide.high);
  });

  it('resamples whole units', () => {
    // Every unit agrees internally, so any resample of whole units keeps raw agreement at 1.
    const consistent = fromUnits([[1, 1], [-2, -2, -2], [3, 3], [-1, -1]]);
    const result = bootstrapCI(consistent, (d) => rawAgreement(d).overall, { rounds: 50, seed: 1 });
    expect(result).toEqual({ estimate: 1, low: 1, high: 1, rounds: 50 });
  });

  it('rejects bad options', () => {
    expect(() => bootstrapCI(data, kappa, { rounds: 0 })).toThrow(RangeError);
    expect(() => bootstrapCI(data, kappa, { level: 1 })).toThrow(RangeError);
  });
});

describe('createRng', () => {
  it('repeats a stream for a seed and stays in range', () => {
    const a = createRng(2024);
    const b = createRng(2024);
    const c = createRng(2025);
    const first = Array.from({ length: 5 }, () => a.int(1000));
    expect(Array.from({ length: 5 }, () => b.int(1000))).toEqual(first);
    expect(Array.from({ length: 5 }, () => c.int(1000))).not.toEqual(first);
    const counts = new Array<number>(10).fill(0);
    let outside = 0;
    for (let i = 0; i < 100_000; i++) {
      const x = a.float();
      if (!(x >= 0 && x < 1)) outside++;
      counts[a.int(10)]!++;
    }
    expect(outside).toBe(0);
    for (const count of counts) expect(Math.abs(count - 10_000)).toBeLessThan(500);
    expect(() => createRng(1.5)).toThrow(RangeError);
    expect(() => a.int(0)).toThrow(RangeError);
  });
});

describe('scale', () => {
  it('processes 1,000,000 labels', () => {
    const data = simulate(200_000, 5, 60, 8);
    expect(data.values.length).toBe(1_000_000);
    expect(rawAgreement(data).pairs).toBe(2_000_000);
    expect(agreementByStrength(data).reduce((sum, s) => sum + s.pairs, 0)).toBe(4_000_000);
    expect(perCoderAgreement(data)).toHaveLength(60);
    expect(Number.isFinite(fleissKappa(data, 'choice').kappa)).toBe(true);
    expect(Number.isFinite(fleissKappa(data, 'value').kappa)).toBe(true);
    expect(krippendorffAlpha(data, 'ordinal').pairable).toBe(1_000_000);
    expect(bootstrapCI(data, (d) => krippendorffAlpha(d, 'nominal').alpha, { rounds: 2, seed: 1 }).rounds).toBe(2);
  });
});
