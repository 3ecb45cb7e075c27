import { describe, expect, it } from 'vitest';
import { binomialTest, logBinomialHalfPmf, stirlingError } from '@/server/ml/binomial';

/** P(X <= k) for Binomial(n, 1/2) by exact integer arithmetic, for small n. */
function exactLowerTail(k: number, n: number): number {
  let c = 1n;
  let sum = 0n;
  for (let i = 0; i <= k; i++) {
    sum += c;
    c = (c * BigInt(n - i)) / BigInt(i + 1);
  }
  return Number(sum) / 2 ** n;
}

describe('binomialTest (two-sided, against 1/2)', () => {
  it('matches published values', () => {
    // R: binom.test(8, 10)$p.value = 0.109375; binom.test(60, 100)$p.value = 0.05688793
    expect(binomialTest(8, 10)).toBeCloseTo(0.109375, 12);
    expect(binomialTest(60, 100)).toBeCloseTo(0.05688793364098089, 12);
    expect(binomialTest(15, 20)).toBeCloseTo(0.04138946533203125, 12);
    expect(binomialTest(0, 5)).toBeCloseTo(0.0625, 12);
    expect(binomialTest(0, 20)).toBeCloseTo(1.9073486328125e-6, 18);
  });

  it('is symmetric in k and n - k', () => {
    for (const [k, n] of [
      [2, 10],
      [37, 100],
      [400, 1000],
      [123, 301],
    ] as const) {
      expect(binomialTest(k, n)).toBeCloseTo(binomialTest(n - k, n), 14);
    }
  });

  it('gives 1 at k = n/2, for no trials, and when every outcome is as likely', () => {
    expect(binomialTest(5, 10)).toBe(1);
    expect(binomialTest(500_000, 1_000_000)).toBe(1);
    expect(binomialTest(0, 0)).toBe(1);
    expect(binomialTest(0, 1)).toBe(1);
    expect(binomialTest(1, 1)).toBe(1);
    expect(binomialTest(3, 7)).toBe(1);
  });

  it('equals 2 P(X <= min(k, n-k)) computed exactly, for every k up to n = 60', () => {
    for (const n of [1, 2, 3, 9, 16, 33, 60]) {
      for (let k = 0; k <= n; k++) {
        const j = Math.min(k, n - k);
        const expected = 2 * j === n ? 1 : Math.min(1, 2 * exactLowerTail(j, n));
        expect(binomialTest(k, n), `k=${k} n=${n}`).toBeCloseTo(expected, 13);
      }
    }
  });

  it('stays accurate for n in the millions (SciPy binomtest values)', () => {
    // scipy.stats.binomtest(k, n).pvalue
    expect(binomialTest(499_000, 1_000_000) / 0.0456082998653896).toBeCloseTo(1, 10);
    expect(binomialTest(499_999, 1_000_000) / 0.9992021156386692).toBeCloseTo(1, 10);
    expect(binomialTest(5000, 9800) / 0.04440414879984631).toBeCloseTo(1, 10);
    expect(binomialTest(480_000, 1_000_000)).toBe(0);
    // ln P(X = 500000 | n = 1e6) by mpmath: -7.1335468816268644843754
    expect(logBinomialHalfPmf(500_000, 1_000_000)).toBeCloseTo(-7.133546881626864, 10);
  });

  it('is fast at its worst case', () => {
    const start = performance.now();
    for (let i = 0; i < 200; i++) binomialTest(498_500 + i, 1_000_000);
    expect(performance.now() - start).toBeLessThan(500);
  });

  it('refuses impossible inputs', () => {
    expect(() => binomialTest(11, 10)).toThrow(RangeError);
    expect(() => binomialTest(-1, 10)).toThrow(RangeError);
    expect(() => binomialTest(1.5, 10)).toThrow(RangeError);
  });

  it("uses Stirling's error consistently on both sides of the series switch", () => {
    // ln(n!) - (n + 1/2) ln n + n - ln sqrt(2 pi), with ln(n!) summed directly.
    for (const n of [15, 16, 35, 36, 80, 81, 500, 501]) {
      let logFactorial = 0;
      for (let i = 2; i <= n; i++) logFactorial += Math.log(i);
      expect(stirlingError(n)).toBeCloseTo(logFactorial - (n + 0.5) * Math.log(n) + n - 0.5 * Math.log(2 * Math.PI), 11);
    }
  });
});
